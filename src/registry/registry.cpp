#include "registry/registry.hpp"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "core/env.hpp"
#include "core/error.hpp"

namespace sattn {
namespace {

std::string folder_of_this_library() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&host_api), &info) == 0 || info.dli_fname == nullptr) return {};
  std::string path = info.dli_fname;
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

std::string real_path(const std::string& path) {
  char buffer[PATH_MAX];
  return realpath(path.c_str(), buffer) != nullptr ? std::string(buffer) : path;
}

// Refuses an ops table that a plugin of another version or a broken one would give.
void check_ops(const sattn_backend_ops* ops, const std::string& path) {
  if (ops == nullptr) fail(SATTN_ERROR_BACKEND_UNAVAILABLE, "plugin ", path, ": its entry point returned NULL");
  if (ops->abi_version != SATTN_BACKEND_ABI_VERSION)
    fail(SATTN_ERROR_VERSION_MISMATCH, "plugin ", path, " implements backend ABI version ", ops->abi_version,
         " but this library speaks version ", SATTN_BACKEND_ABI_VERSION);
  if (ops->struct_size < kMinimumOpsSize)
    fail(SATTN_ERROR_VERSION_MISMATCH, "plugin ", path, " has a sattn_backend_ops of ", ops->struct_size,
         " bytes, fewer than the ", kMinimumOpsSize, " of ABI version ", SATTN_BACKEND_ABI_VERSION);
  if (ops->name == nullptr || ops->name[0] == '\0' || std::strlen(ops->name) > 63)
    fail(SATTN_ERROR_BACKEND_UNAVAILABLE, "plugin ", path, " has no valid backend name");
  const bool complete = ops->probe && ops->supports && ops->cost && ops->plan_create && ops->plan_destroy &&
                        ops->kernel_name && ops->workspace_size && ops->can_implement && ops->run;
  if (!complete) fail(SATTN_ERROR_BACKEND_UNAVAILABLE, "plugin ", path, " (", ops->name, ") leaves functions NULL");
}

}  // namespace

Registry& Registry::instance() {
  static Registry registry;
  return registry;
}

Registry::Registry() {
  for (const sattn_backend_ops* ops : builtin_backends(host_api())) {
    check_ops(ops, "(built in)");
    add(ops, "", ops->probe() != 0);
  }
  const std::string own = folder_of_this_library();
  if (!own.empty()) scan_folder(own);
  scan_plugin_path();
  if (env::flag("SATTN_DEBUG"))
    for (const auto& error : scan_errors_) std::fprintf(stderr, "libsattn: %s\n", error.c_str());
}

void Registry::add(const sattn_backend_ops* ops, std::string path, bool available) {
  BackendEntry& entry = entries_.emplace_back();
  // Functions an older plugin's table lacks stay NULL; a newer plugin's extra fields are not read.
  std::memcpy(static_cast<void*>(&entry.table), ops, std::min<size_t>(ops->struct_size, sizeof(sattn_backend_ops)));
  entry.table.struct_size = sizeof(sattn_backend_ops);
  entry.ops = &entry.table;
  entry.path = std::move(path);
  entry.available = available;
}

std::vector<const BackendEntry*> Registry::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<const BackendEntry*> list;
  for (const auto& entry : entries_) list.push_back(&entry);
  return list;
}

const BackendEntry* Registry::find(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& entry : entries_)
    if (name == entry.ops->name) return &entry;
  return nullptr;
}

std::vector<std::string> Registry::scan_errors() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return scan_errors_;
}

void Registry::load_plugin(const std::string& given_path) {
  require(!given_path.empty(), "plugin path is empty");
  const std::string path = real_path(given_path);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& entry : entries_)
      if (entry.path == path) return;
  }
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    fail(SATTN_ERROR_BACKEND_UNAVAILABLE, "cannot load plugin ", given_path, ": ",
         why != nullptr ? why : "dlopen failed");
  }
  try {
    void* symbol = dlsym(handle, SATTN_BACKEND_ENTRY_SYMBOL);
    if (symbol == nullptr)
      fail(SATTN_ERROR_BACKEND_UNAVAILABLE, "plugin ", path, " does not export ", SATTN_BACKEND_ENTRY_SYMBOL);
    sattn_backend_entry_fn entry_point = nullptr;
    static_assert(sizeof(entry_point) == sizeof(symbol));
    std::memcpy(&entry_point, &symbol, sizeof symbol);
    const sattn_backend_ops* ops = entry_point(SATTN_BACKEND_ABI_VERSION, &host_api());
    check_ops(ops, path);
    const bool available = ops->probe() != 0;  // plugin code, so outside the lock
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& entry : entries_)
      if (std::strcmp(entry.ops->name, ops->name) == 0)
        fail(SATTN_ERROR_INVALID_ARGUMENT, "plugin ", path, " registers backend '", ops->name,
             "', a name already taken by ", entry.path.empty() ? "a built-in backend" : entry.path);
    add(ops, path, available);
  } catch (...) {
    dlclose(handle);
    throw;
  }
}

void Registry::scan_folder(const std::string& folder) {
  DIR* dir = opendir(folder.c_str());
  if (dir == nullptr) return;
  std::vector<std::string> files;
  while (const dirent* item = readdir(dir)) {
    const std::string name = item->d_name;
    if (name.rfind(kPluginPrefix, 0) == 0 && name.size() > 3 && name.find(".so") != std::string::npos)
      files.push_back(folder + "/" + name);
  }
  closedir(dir);
  std::sort(files.begin(), files.end());  // deterministic registration order
  for (const auto& file : files) {
    try {
      load_plugin(file);
    } catch (const std::exception& e) {
      scan_errors_.emplace_back(e.what());
    }
  }
}

void Registry::scan_plugin_path() {
  const auto list = env::text("SATTN_PLUGIN_PATH");
  if (!list) return;
  std::stringstream entries(*list);
  std::string item;
  while (std::getline(entries, item, ':')) {
    if (item.empty()) continue;
    if (DIR* dir = opendir(item.c_str())) {
      closedir(dir);
      scan_folder(item);
      continue;
    }
    try {
      load_plugin(item);
    } catch (const std::exception& e) {
      scan_errors_.emplace_back(e.what());
    }
  }
}

}  // namespace sattn
