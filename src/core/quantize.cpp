#include "core/quantize.hpp"

#include "core/error.hpp"

namespace sattn {

void quantize_operands(const QuantShape&, const float*, const float*, const float*, const QuantizedOperands&) {
  fail(SATTN_ERROR_NOT_SUPPORTED, "int8/int4 quantisation is not in this build yet");
}

}  // namespace sattn
