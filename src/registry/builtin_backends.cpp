// The built-in backends enter through the same entry-point signature as plugins, so they use only the public
// backend interface (backends/ is compiled without src/ on its include path).
#include <sattn_backend.h>

#include "core/error.hpp"
#include "registry/registry.hpp"

extern "C" const sattn_backend_ops* sattn_reference_backend_entry(uint32_t abi, const sattn_host_api* host);
extern "C" const sattn_backend_ops* sattn_cpu_backend_entry(uint32_t abi, const sattn_host_api* host);
#if SATTN_HAVE_RVV_BACKEND
extern "C" const sattn_backend_ops* sattn_rvv_backend_entry(uint32_t abi, const sattn_host_api* host);
#endif

namespace sattn {

std::vector<const sattn_backend_ops*> builtin_backends(const sattn_host_api& host) {
  const sattn_backend_ops* reference = sattn_reference_backend_entry(SATTN_BACKEND_ABI_VERSION, &host);
  if (reference == nullptr) fail(SATTN_ERROR_INTERNAL, "the built-in reference backend refused the host API");
  const sattn_backend_ops* cpu = sattn_cpu_backend_entry(SATTN_BACKEND_ABI_VERSION, &host);
  if (cpu == nullptr) fail(SATTN_ERROR_INTERNAL, "the built-in cpu backend refused the host API");
#if SATTN_HAVE_RVV_BACKEND  // riscv64 builds; its probe says whether this hart has V
  const sattn_backend_ops* rvv = sattn_rvv_backend_entry(SATTN_BACKEND_ABI_VERSION, &host);
  if (rvv == nullptr) fail(SATTN_ERROR_INTERNAL, "the built-in rvv backend refused the host API");
  return {reference, cpu, rvv};
#else
  return {reference, cpu};
#endif
}

}  // namespace sattn
