// Checks of the run arguments against a plan's problem: presence, devices, dtypes, shapes, strides and the extent
// of every tensor, so a backend only ever sees tensors it can address safely.
#pragma once

#include <sattn.h>
#include <sattn_backend.h>

namespace sattn {

// Returns the caller's args copied through the versioned-struct check, after every check passed.
// device_type is the device the chosen backend reads (CPU also accepts pinned and managed host memory).
sattn_run_args check_run_args(const sattn_problem& problem, int32_t device_type, const sattn_run_args* args);

}  // namespace sattn
