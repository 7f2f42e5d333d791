// The backend registry: built-in backends plus plugin shared objects found in the library's folder and
// $SATTN_PLUGIN_PATH or loaded explicitly. Initialised once; entries are never removed, so pointers stay valid.
#pragma once

#include <sattn_backend.h>

#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sattn {

struct BackendEntry {
  sattn_backend_ops table{};               // the backend's ops, zero-extended when it was built with an older header
  const sattn_backend_ops* ops = nullptr;  // &table
  std::string path;                        // "" when built in
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
  // Registers an ops table that passed check_ops; probe() must have been called already (never under the lock).
  void add(const sattn_backend_ops* ops, std::string path, bool available);
  void scan_folder(const std::string& folder);
  void scan_plugin_path();

  mutable std::mutex mutex_;
  std::deque<BackendEntry> entries_;
  std::vector<std::string> scan_errors_;
};

const sattn_host_api& host_api();
// The backends compiled into libsattn.so (backends/reference), registered first and in this order.
std::vector<const sattn_backend_ops*> builtin_backends(const sattn_host_api& host);
// Prefix of plugin file names found by folder scans: libsattn-backend-<name>.so
inline constexpr std::string_view kPluginPrefix = "libsattn-backend-";

// Bytes of the oldest sattn_backend_ops the registry accepts (ABI 2 as first published).
inline constexpr size_t kMinimumOpsSize = offsetof(sattn_backend_ops, run) + sizeof(void*);

}  // namespace sattn
