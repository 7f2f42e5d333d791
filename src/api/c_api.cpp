// The exported C entry points. Each one validates its pointers, runs inside guarded() so no exception crosses the
// ABI, and leaves a message in sattn_last_error() on failure.
#include <sattn.h>

#include <cstring>

#include "api/plan.hpp"
#include "core/descriptor.hpp"
#include "core/error.hpp"
#include "core/names.hpp"
#include "registry/registry.hpp"

using sattn::guarded;
using sattn::require;

namespace {
// -1 for NULL or an unknown name; never throws (no allocation failure escapes either).
template <typename Lookup>
int32_t value_or_minus_one(const char* name, Lookup lookup) {
  int32_t value = -1;
  if (name == nullptr) return value;
  sattn::guarded([&] { value = lookup(name).value_or(-1); });
  return value;
}
}  // namespace

extern "C" {

SATTN_API uint32_t sattn_version(void) { return SATTN_VERSION; }

SATTN_API const char* sattn_version_string(void) { return SATTN_BUILD_VERSION_STRING; }

SATTN_API const char* sattn_status_string(sattn_status status) {
  switch (status) {
    case SATTN_OK:
      return "SATTN_OK";
    case SATTN_ERROR_INVALID_ARGUMENT:
      return "SATTN_ERROR_INVALID_ARGUMENT";
    case SATTN_ERROR_NOT_SUPPORTED:
      return "SATTN_ERROR_NOT_SUPPORTED";
    case SATTN_ERROR_OUT_OF_MEMORY:
      return "SATTN_ERROR_OUT_OF_MEMORY";
    case SATTN_ERROR_WORKSPACE_TOO_SMALL:
      return "SATTN_ERROR_WORKSPACE_TOO_SMALL";
    case SATTN_ERROR_BACKEND_UNAVAILABLE:
      return "SATTN_ERROR_BACKEND_UNAVAILABLE";
    case SATTN_ERROR_DEVICE:
      return "SATTN_ERROR_DEVICE";
    case SATTN_ERROR_INTERNAL:
      return "SATTN_ERROR_INTERNAL";
    case SATTN_ERROR_VERSION_MISMATCH:
      return "SATTN_ERROR_VERSION_MISMATCH";
  }
  return "SATTN_STATUS_UNKNOWN";
}

SATTN_API const char* sattn_last_error(void) { return sattn::last_error(); }

SATTN_API const char* sattn_pattern_name(int32_t pattern) { return sattn::pattern_name_or_null(pattern); }
SATTN_API const char* sattn_precision_name(int32_t precision) { return sattn::precision_name_or_null(precision); }
SATTN_API const char* sattn_dtype_name(int32_t dtype) { return sattn::dtype_name_or_null(dtype); }
SATTN_API const char* sattn_device_type_name(int32_t device_type) {
  return sattn::device_type_name_or_null(device_type);
}

SATTN_API int32_t sattn_pattern_from_name(const char* name) {
  return value_or_minus_one(name, sattn::pattern_from_name);
}
SATTN_API int32_t sattn_precision_from_name(const char* name) {
  return value_or_minus_one(name, sattn::precision_from_name);
}
SATTN_API int32_t sattn_dtype_from_name(const char* name) { return value_or_minus_one(name, sattn::dtype_from_name); }

SATTN_API sattn_status sattn_plan_create(const sattn_attention_desc* desc, const sattn_plan_prefs* prefs,
                                         sattn_plan** out_plan) {
  return guarded([&] {
    require(out_plan != nullptr, "out_plan is NULL");
    *out_plan = nullptr;
    *out_plan = sattn::create_plan(desc, prefs).release();
  });
}

SATTN_API sattn_status sattn_plan_can_implement(const sattn_plan* plan, const sattn_run_args* args) {
  return guarded([&] {
    require(plan != nullptr, "plan is NULL");
    sattn::check_run_args_for(*plan, args);
  });
}

SATTN_API sattn_status sattn_plan_workspace_size(const sattn_plan* plan, size_t* out_bytes) {
  return guarded([&] {
    require(plan != nullptr, "plan is NULL");
    require(out_bytes != nullptr, "out_bytes is NULL");
    *out_bytes = plan->workspace_size();
  });
}

SATTN_API sattn_status sattn_plan_run(const sattn_plan* plan, const sattn_run_args* args, void* workspace,
                                      size_t workspace_bytes, void* stream) {
  return guarded([&] {
    require(plan != nullptr, "plan is NULL");
    sattn::run_plan(*plan, args, workspace, workspace_bytes, stream);
  });
}

SATTN_API void sattn_plan_destroy(sattn_plan* plan) { delete plan; }

SATTN_API sattn_status sattn_plan_get_info(const sattn_plan* plan, sattn_plan_info* info) {
  return guarded([&] {
    require(plan != nullptr, "plan is NULL");
    sattn_plan_info out = SATTN_PLAN_INFO_INIT;
    out = sattn::read_versioned(info, out, "sattn_plan_info");
    out.pattern = plan->desc.pattern;
    out.backend = plan->backend_name.c_str();
    out.kernel = plan->kernel.c_str();
    out.reason = plan->reason.c_str();
    out.block_size_q = plan->problem.tile_q;
    out.block_size_k = plan->problem.tile_k;
    out.density = plan->density_estimate;
    out.estimated_flops = plan->flops_estimate;
    out.estimated_bytes = plan->bytes_estimate;
    out.workspace_size = plan->workspace_size();
    out.plan_bytes = plan->plan_bytes();
    out.num_spans = plan->num_spans();
    std::memcpy(static_cast<void*>(info), &out, out.struct_size);
  });
}

SATTN_API sattn_status sattn_plan_get_stats(const sattn_plan* plan, sattn_plan_stats* stats) {
  return guarded([&] {
    require(plan != nullptr, "plan is NULL");
    sattn_plan_stats out = SATTN_PLAN_STATS_INIT;
    out = sattn::read_versioned(stats, out, "sattn_plan_stats");
    {
      std::lock_guard<std::mutex> lock(plan->stats_mutex);
      const uint32_t size = out.struct_size;
      out = plan->stats;
      out.struct_size = size;
    }
    std::memcpy(static_cast<void*>(stats), &out, out.struct_size);
  });
}

SATTN_API int32_t sattn_backend_count(void) {
  int32_t count = 0;
  guarded([&] { count = static_cast<int32_t>(sattn::Registry::instance().entries().size()); });
  return count;
}

SATTN_API sattn_status sattn_backend_get_info(int32_t index, sattn_backend_info* info) {
  return guarded([&] {
    sattn_backend_info out = SATTN_BACKEND_INFO_INIT;
    out = sattn::read_versioned(info, out, "sattn_backend_info");
    const auto entries = sattn::Registry::instance().entries();
    require(index >= 0 && static_cast<size_t>(index) < entries.size(), "backend index ", index, " is out of range [0, ",
            entries.size(), ")");
    const sattn::BackendEntry& entry = *entries[static_cast<size_t>(index)];
    out.available = entry.available ? 1 : 0;
    out.name = entry.ops->name;
    out.description = entry.ops->description != nullptr ? entry.ops->description : "";
    out.path = entry.path.c_str();
    out.device_type = entry.ops->device_type;
    out.is_plugin = entry.path.empty() ? 0 : 1;
    out.pattern_mask = entry.ops->pattern_mask;
    out.precision_mask = entry.ops->precision_mask;
    std::memcpy(static_cast<void*>(info), &out, out.struct_size);
  });
}

SATTN_API sattn_status sattn_backend_load(const char* path) {
  return guarded([&] {
    require(path != nullptr, "path is NULL");
    sattn::Registry::instance().load_plugin(path);
  });
}

}  // extern "C"
