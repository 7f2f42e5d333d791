// The backend registry: built-in backends plus plugin shared objects found in the library's folder and
// $SATTN_PLUGIN_PATH or loaded explicitly. Initialised once; entries are never removed, so pointers stay valid.
#pragma once

#include <sattn_backend.h>

#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sattn {

struct BackendEntry {
  const sattn_backend_ops* ops = nullptr;
  std::string path;  // "" when built in
  bool available = false;
};

class Registry {
 public:
  static Registry& instance();
  std::vector<const BackendEntry*> entries() const;
  const BackendEntry* find(std::string_view name) const;
  // Loads a plugin; throws sattn::Error with the reason it was refused. Loading the same file twice is a no-op.
  void load_plugin(const std::string& path);
  // Problems met while scanning plugin folders (a scan never fails the library).
  std::vector<std::string> scan_errors() const;

 private:
  Registry();
  void add(const sattn_backend_ops* ops, std::string path);
  void scan_folder(const std::string& folder);
  void scan_plugin_path();

  mutable std::mutex mutex_;
  std::deque<BackendEntry> entries_;
  std::vector<std::string> scan_errors_;
};

const sattn_host_api& host_api();
// Prefix of plugin file names found by folder scans: libsattn-backend-<name>.so
inline constexpr std::string_view kPluginPrefix = "libsattn-backend-";

// Built-in backends.
const sattn_backend_ops* cpu_backend_ops();

}  // namespace sattn
