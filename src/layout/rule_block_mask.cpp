// block_mask: the caller's u8 mask [B or 1, Hq or 1, ceil(Lq/b), ceil(Lk/b)] keeps whole b x b blocks; the layout's
// tiles (the backend's shape) may cut across blocks, so the predicate looks the block of each element up.
#include "core/tensor_io.hpp"
#include "layout/rules.hpp"

namespace sattn {
namespace {

class BlockMaskRule final : public PatternRule {
 public:
  BlockMaskRule(const Geometry& g, int64_t block, const sattn_tensor& mask) : g_(g), block_(block), mask_(mask) {}
  int64_t batches() const override { return mask_.shape[0]; }
  int64_t heads() const override { return mask_.shape[1]; }
  void candidates(int64_t b, int64_t h, int64_t qt, std::vector<int32_t>& out) const override {
    std::vector<int32_t> blocks;
    const int64_t first = g_.q_begin(qt) / block_, last = (g_.q_end(qt) - 1) / block_;
    for (int64_t qb = first; qb <= last; ++qb)
      for (int64_t kb = 0; kb < mask_.shape[3]; ++kb)
        if (load_u8(mask_, b, h, qb, kb) != 0) blocks.push_back(static_cast<int32_t>(kb));
    sort_unique(blocks);
    append_block_tiles(g_, block_, blocks, out);
    sort_unique(out);
  }
  // Tiles that are the blocks: a kept block is a whole tile.
  bool keeps_whole_tile(int64_t b, int64_t h, int64_t qt, int64_t kt) const override {
    return g_.tile_q == block_ && g_.tile_k == block_ && load_u8(mask_, b, h, qt, kt) != 0;
  }
  void keep_row(int64_t b, int64_t hq, int64_t i, int64_t j0, int64_t j1, uint8_t* out) const override {
    const int64_t bb = mask_.shape[0] == 1 ? 0 : b, h = mask_.shape[1] == 1 ? 0 : hq, qb = i / block_;
    for (int64_t j = j0; j < j1; ++j) out[j - j0] = load_u8(mask_, bb, h, qb, j / block_) != 0 ? 1 : 0;
  }

 private:
  Geometry g_;
  int64_t block_;
  sattn_tensor mask_;  // read only while the layout is built, within the run that owns the tensor
};

}  // namespace

std::shared_ptr<const PatternRule> make_block_mask_rule(const sattn_problem& problem, const Geometry& g,
                                                        const sattn_tensor& mask) {
  return std::make_shared<BlockMaskRule>(g, problem.desc->params.block_size, mask);
}

}  // namespace sattn
