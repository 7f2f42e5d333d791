// The services the core lends to backends, plugins included, through plain C function pointers.
#include "core/error.hpp"
#include "layout/block_layout.hpp"
#include "registry/registry.hpp"

namespace sattn {
namespace {

void host_set_error(const char* message) { set_last_error(message != nullptr ? message : "backend error"); }

void host_get_layout_view(const sattn_layout* layout, sattn_layout_view* view) {
  if (layout != nullptr && view != nullptr) *view = layout->view();
}

void host_layout_row_mask(const sattn_layout* layout, int64_t b, int64_t hq, int64_t i, int64_t j0, int64_t j1,
                          uint8_t* out) {
  if (layout != nullptr && out != nullptr && j1 > j0) layout->row_mask(b, hq, i, j0, j1, out);
}

}  // namespace

const sattn_host_api& host_api() {
  static const sattn_host_api api{sizeof(sattn_host_api), SATTN_BACKEND_ABI_VERSION, host_set_error,
                                  host_get_layout_view, host_layout_row_mask};
  return api;
}

}  // namespace sattn
