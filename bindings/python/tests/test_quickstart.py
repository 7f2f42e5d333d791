"""The README quickstart runs as written and computes block_topk within the bf16 tolerance."""
import numpy as np
from attention_reference import reference_attention
from sattn_test_helpers import TOLERANCE, assert_matches, uniform


def test_quickstart():
    rng = np.random.default_rng(2024)
    Q = uniform(rng, (1, 8, 320, 64))
    K = uniform(rng, (1, 2, 320, 64))
    V = uniform(rng, (1, 2, 320, 64))

    from sattn import sparse_attention
    O = sparse_attention(Q, K, V, pattern="block_topk", params={"block_size": 64, "keep_ratio": 0.12, "global_tokens": 16}, precision="bf16", training=False)  # noqa: E501 (the line as documented)

    assert O.shape == Q.shape and O.dtype == np.float32
    ref_out, _ = reference_attention(Q, K, V, "block_topk",
                                     {"block_size": 64, "keep_ratio": 0.12, "global_tokens": 16})
    assert_matches(O, ref_out, TOLERANCE["bf16"])
