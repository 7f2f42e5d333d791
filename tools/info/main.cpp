// sattn-info: which libsattn is loaded and what each registered backend offers.
#include <cstdint>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "enum_names.hpp"
#include "json_writer.hpp"
#include "sattn.h"

namespace {

struct BackendEntry {
  std::string name;
  std::string description;
  std::string path;  // "" when built in
  bool available = false;
  bool is_plugin = false;
  int32_t device_type = 0;
  uint32_t pattern_mask = 0;
  uint32_t precision_mask = 0;
};

std::string version_text(uint32_t encoded) {
  return std::to_string(encoded / 1000000u) + "." + std::to_string(encoded / 1000u % 1000u) + "." +
         std::to_string(encoded % 1000u);
}

// A program built against header X.y runs against a library X.z with z >= y (sattn.h).
bool loaded_library_is_compatible() {
  const uint32_t loaded = sattn_version();
  return loaded / 1000000u == SATTN_VERSION_MAJOR && loaded / 1000u % 1000u >= SATTN_VERSION_MINOR;
}

std::string text_or_empty(const char* text) { return text != nullptr ? std::string(text) : std::string(); }

bool read_backends(std::vector<BackendEntry>& entries) {
  const int32_t count = sattn_backend_count();
  for (int32_t index = 0; index < count; ++index) {
    sattn_backend_info info = SATTN_BACKEND_INFO_INIT;
    const sattn_status status = sattn_backend_get_info(index, &info);
    if (status != SATTN_OK) {
      std::cerr << "sattn-info: sattn_backend_get_info(" << index << ") failed: " << sattn_status_string(status) << ": "
                << sattn_last_error() << "\n";
      return false;
    }
    entries.push_back(BackendEntry{text_or_empty(info.name), text_or_empty(info.description), text_or_empty(info.path),
                                   info.available != 0, info.is_plugin != 0, info.device_type, info.pattern_mask,
                                   info.precision_mask});
  }
  return true;
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + word;
  return text.empty() ? "(none)" : text;
}

void print_text(const std::vector<BackendEntry>& backends) {
  std::cout << "libsattn header " << SATTN_VERSION_MAJOR << "." << SATTN_VERSION_MINOR << "." << SATTN_VERSION_PATCH
            << ", loaded library " << sattn_version_string() << " (sattn_version() = " << sattn_version() << ")"
            << (loaded_library_is_compatible() ? "" : "  ** INCOMPATIBLE with this header **") << "\n";
  std::cout << backends.size() << (backends.size() == 1 ? " backend" : " backends") << "\n";
  for (const BackendEntry& backend : backends) {
    std::cout << "\n"
              << backend.name << ": " << backend.description << "\n"
              << "  available:  " << (backend.available ? "yes" : "no") << "\n"
              << "  origin:     " << (backend.is_plugin ? "plugin " + backend.path : std::string("built in")) << "\n"
              << "  device:     " << sattn_tools::device_type_name(backend.device_type) << "\n"
              << "  patterns:   " << joined(sattn_tools::pattern_mask_names(backend.pattern_mask)) << "\n"
              << "  precisions: " << joined(sattn_tools::precision_mask_names(backend.precision_mask)) << "\n";
  }
}

void write_name_list(sattn_tools::JsonWriter& json, const std::vector<std::string>& names) {
  json.begin_array();
  for (const std::string& name : names) json.string(name);
  json.end_array();
}

void print_json(const std::vector<BackendEntry>& backends) {
  sattn_tools::JsonWriter json(std::cout);
  json.begin_object();
  json.key("header_version");
  json.string(version_text(SATTN_VERSION));
  json.key("library_version");
  json.string(sattn_version_string());
  json.key("library_version_code");
  json.integer(sattn_version());
  json.key("compatible");
  json.boolean(loaded_library_is_compatible());
  json.key("backends");
  json.begin_array();
  for (const BackendEntry& backend : backends) {
    json.begin_object();
    json.key("name");
    json.string(backend.name);
    json.key("description");
    json.string(backend.description);
    json.key("available");
    json.boolean(backend.available);
    json.key("is_plugin");
    json.boolean(backend.is_plugin);
    json.key("path");
    json.string(backend.path);
    json.key("device_type");
    json.string(sattn_tools::device_type_name(backend.device_type));
    json.key("pattern_mask");
    json.integer(backend.pattern_mask);
    json.key("patterns");
    write_name_list(json, sattn_tools::pattern_mask_names(backend.pattern_mask));
    json.key("precision_mask");
    json.integer(backend.precision_mask);
    json.key("precisions");
    write_name_list(json, sattn_tools::precision_mask_names(backend.precision_mask));
    json.end_object();
  }
  json.end_array();
  json.end_object();
}

constexpr std::string_view kUsage =
    "usage: sattn-info [--json]\n"
    "Prints the libsattn version (this header and the loaded library) and every registered backend: name,\n"
    "description, availability, built in or plugin path, device type, supported patterns and precisions.\n"
    "  --json   the same as one JSON object\n"
    "Plugins in the library's folder and in $SATTN_PLUGIN_PATH are listed too.\n";

}  // namespace

int main(int argc, char** argv) {
  bool as_json = false;
  for (int index = 1; index < argc; ++index) {
    const std::string_view argument = argv[index];
    if (argument == "--json") {
      as_json = true;
    } else if (argument == "--help" || argument == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "sattn-info: unknown argument '" << argument << "'\n" << kUsage;
      return 2;
    }
  }
  std::vector<BackendEntry> backends;
  if (!read_backends(backends)) return 1;
  if (as_json) {
    print_json(backends);
  } else {
    print_text(backends);
  }
  return 0;
}
