// block_mask: the caller's u8 mask [B or 1, Hq or 1, ceil(Lq/b), ceil(Lk/b)] lists whole key blocks per query block.
#include <cstring>

#include "core/tensor_io.hpp"
#include "layout/rules.hpp"

namespace sattn {
namespace {

class BlockMaskRule final : public PatternRule {
 public:
  BlockMaskRule(const Geometry& g, const sattn_tensor& mask) : g_(g), mask_(mask) {}
  int64_t batches() const override { return g_.batch; }
  int64_t heads() const override { return mask_.shape[1]; }
  void candidates(int64_t b, int64_t h, int64_t qt, std::vector<int32_t>& out) const override {
    for (int64_t kt = 0; kt < g_.num_k_tiles; ++kt)
      if (load_u8(mask_, mask_.shape[0] == 1 ? 0 : b, h, qt, kt) != 0) out.push_back(static_cast<int32_t>(kt));
  }
  TileClass classify(int64_t, int64_t, int64_t, int64_t) const override { return TileClass::Full; }
  void keep_row(int64_t, int64_t, int64_t, int64_t j0, int64_t j1, uint8_t* out) const override {
    std::memset(out, 1, static_cast<size_t>(j1 - j0));  // the tile list is the whole truth
  }

 private:
  Geometry g_;
  sattn_tensor mask_;  // read only while the layout is built, within the run that owns the tensor
};

}  // namespace

std::shared_ptr<const PatternRule> make_block_mask_rule(const Geometry& g, const sattn_tensor& mask) {
  return std::make_shared<BlockMaskRule>(g, mask);
}

}  // namespace sattn
