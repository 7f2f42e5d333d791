"""Exact float64 reference of every libsattn pattern, written from docs/patterns.md alone.

The attention itself (scores, softmax, P V, LSE) is computed in float64. Data-dependent selections (block_topk
scores, N:M, top-k, LSH buckets and projection, landmark k-means) are computed in float32 from the inputs as given,
as docs/patterns.md says the library does, so that both pick the same keys. quantised_reference() simulates the
int8 / int4 computation in float64.

The readings docs/patterns.md fixes where a rule leaves room are noted at each pattern.
"""
import math

import numpy as np

NEG_INF = -np.inf


class Problem:
    """Sizes and the float32 / float64 copies of one problem."""

    def __init__(self, q, k, v, causal, scale):
        self.q32, self.k32, self.v32 = (np.asarray(x, dtype=np.float32) for x in (q, k, v))
        self.q64, self.k64, self.v64 = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
        self.batch, self.hq, self.lq, self.d = self.q32.shape
        _, self.hk, self.lk, _ = self.k32.shape
        self.dv = self.v32.shape[3]
        assert self.hq % self.hk == 0
        self.group = self.hq // self.hk
        self.causal = causal
        # The library receives scale as a float32 (0 = 1/sqrt(D)); use the same value.
        self.scale = float(np.float32(scale)) if scale is not None else 1.0 / math.sqrt(self.d)
        self.positions = np.arange(self.lq) + (self.lk - self.lq)  # p_i
        self.keys = np.arange(self.lk)

    def causal_allowed(self):
        """[Lq, Lk]: j <= p_i when causal, everything otherwise."""
        if not self.causal:
            return np.ones((self.lq, self.lk), dtype=bool)
        return self.keys[None, :] <= self.positions[:, None]

    def global_rule(self, g):
        """[Lq, Lk]: keys j < g for every query, every key for queries with p_i < g.

        With g = 0 nobody is global, not even the queries at negative positions that Lq > Lk creates.
        """
        return (self.keys[None, :] < g) | ((self.positions[:, None] < g) & (g > 0))

    def expand_kv(self, x):
        """kv heads repeated so that query head h reads kv head h // G."""
        return np.repeat(x, self.group, axis=1)

    def scores32(self):
        """float32 s_ij = scale * q_i . k_j, [B, Hq, Lq, Lk], for data-dependent selections."""
        k = self.expand_kv(self.k32)
        return np.float32(self.scale) * np.matmul(self.q32, np.swapaxes(k, -1, -2))

    def full(self, mask2d):
        return np.broadcast_to(mask2d, (self.batch, self.hq, self.lq, self.lk)).copy()


def _ceil_div(a, b):
    return -(-a // b)


# ---- patterns --------------------------------------------------------------------------------------------------
def dense_mask(pb, params):
    return pb.full(pb.causal_allowed())


def sliding_window_mask(pb, params):
    w = params.get("window_size", 0)
    d = params.get("dilation", 1) or 1
    wrap = params.get("wrap", 0)
    g = params.get("global_tokens", 0)
    ts = np.arange(-w, 1 if pb.causal else w + 1)
    mask = np.zeros((pb.lq, pb.lk), dtype=bool)
    for i, p in enumerate(pb.positions):
        pos = p + d * ts
        if wrap:
            pos = np.mod(pos, pb.lk)  # non-negative mod; a position reached twice counts once
        else:
            pos = pos[(pos >= 0) & (pos < pb.lk)]
        mask[i, pos] = True
    mask |= pb.global_rule(g)
    return pb.full(mask & pb.causal_allowed())


def block_local_global_mask(pb, params):
    b = params["block_size"]
    local = params.get("local_blocks", 1)
    g = params.get("global_tokens", 0)
    qb = np.arange(pb.lq) // b
    centre = (qb * b + pb.lk - pb.lq) // b  # floor division, also for negative positions
    kb = pb.keys // b
    mask = np.abs(kb[None, :] - centre[:, None]) <= local
    mask |= pb.global_rule(g)
    return pb.full(mask & pb.causal_allowed())


def _block_means(x, size):
    """float32 means of the rows of x [L, D] in blocks [m*size, min((m+1)*size, L))."""
    return np.stack([x[s:s + size].mean(axis=0, dtype=np.float32) for s in range(0, x.shape[0], size)])


def block_topk_kept_blocks(pb, params):
    """bool [B, Hk, ceil(Lq/b), ceil(Lk/b)]: the key blocks each query block keeps.

    As docs/patterns.md fixes it: n = topk_blocks if > 0 else max(1, ceil(keep_ratio * candidates - 1e-6)) (so
    0.3f * 10 keeps 3); kept = the n best candidates (ties to the lower index) UNION the block holding p_last (when
    0 <= p_last < Lk) UNION the first ceil(g / b) blocks; query blocks whose first position is < g keep all blocks.
    With causal, candidates are the blocks with kb * b <= p_last. qbar: mean over the query block's rows and the G heads; kbar: mean over the key
    block's real rows; with compression, a key block scores the max over the compression blocks overlapping it.
    """
    b = params["block_size"]
    g = params.get("global_tokens", 0)
    topk_blocks = params.get("topk_blocks", 0)
    keep_ratio = float(np.float32(params.get("keep_ratio", 0.0)))
    comp = params.get("comp_block_size", 0)
    nqb, nkb = _ceil_div(pb.lq, b), _ceil_div(pb.lk, b)
    kept = np.zeros((pb.batch, pb.hk, nqb, nkb), dtype=bool)
    for bi in range(pb.batch):
        for h in range(pb.hk):
            keys = pb.k32[bi, h]
            if comp > 0:
                pooled = _block_means(keys, comp)
                overlaps = [range(kb * b // comp, (min((kb + 1) * b, pb.lk) - 1) // comp + 1) for kb in range(nkb)]
            else:
                pooled = _block_means(keys, b)
                overlaps = [range(kb, kb + 1) for kb in range(nkb)]
            for qb in range(nqb):
                row_end = min((qb + 1) * b, pb.lq)
                first = qb * b + pb.lk - pb.lq
                p_last = row_end - 1 + pb.lk - pb.lq
                if g > 0 and first < g:
                    kept[bi, h, qb, :] = True
                    continue
                rows = pb.q32[bi, h * pb.group:(h + 1) * pb.group, qb * b:row_end, :].reshape(-1, pb.d)
                qbar = rows.mean(axis=0, dtype=np.float32)
                dots = pooled @ qbar  # float32
                if pb.causal:
                    candidates = [kb for kb in range(nkb) if kb * b <= p_last] if p_last >= 0 else []
                else:
                    candidates = list(range(nkb))
                n = topk_blocks if topk_blocks > 0 else max(1, math.ceil(keep_ratio * len(candidates) - 1e-6))
                scores = np.array([max(dots[m] for m in overlaps[kb]) for kb in candidates], dtype=np.float32)
                order = np.argsort(-scores, kind="stable")  # stable: ties to the lower index
                for idx in order[:n]:
                    kept[bi, h, qb, candidates[idx]] = True
                if 0 <= p_last < pb.lk:
                    kept[bi, h, qb, p_last // b] = True
                kept[bi, h, qb, :min(_ceil_div(g, b), nkb)] = True
    return kept


def block_topk_mask(pb, params):
    b = params["block_size"]
    g = params.get("global_tokens", 0)
    kept = block_topk_kept_blocks(pb, params)
    qb = np.arange(pb.lq) // b
    kb = pb.keys // b
    element = kept[:, :, qb][:, :, :, kb]  # [B, Hk, Lq, Lk]
    element = pb.expand_kv(element)
    element |= pb.global_rule(g)
    return element & pb.causal_allowed()


def _keep_best(scores, allowed, count):
    """bool mask of the `count` allowed entries with the largest score along the last axis (ties to the lower
    index); all allowed entries when fewer are allowed."""
    key = np.where(allowed, -scores, np.inf)
    order = np.argsort(key, axis=-1, kind="stable")[..., :count]
    chosen = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(chosen, order, True, axis=-1)
    return chosen & allowed


def nm_structured_mask(pb, params):
    n, m = params["nm_n"], params["nm_m"]
    scores = pb.scores32()
    allowed = pb.full(pb.causal_allowed())
    groups = _ceil_div(pb.lk, m)
    pad = groups * m - pb.lk
    shape = (pb.batch, pb.hq, pb.lq, groups, m)
    padded_scores = np.pad(scores, [(0, 0)] * 3 + [(0, pad)]).reshape(shape)
    padded_allowed = np.pad(allowed, [(0, 0)] * 3 + [(0, pad)]).reshape(shape)
    kept = _keep_best(padded_scores, padded_allowed, n)
    return kept.reshape(pb.batch, pb.hq, pb.lq, groups * m)[..., :pb.lk]


def topk_per_query_mask(pb, params):
    allowed = pb.full(pb.causal_allowed())
    return _keep_best(pb.scores32(), allowed, params["topk_k"])


def splitmix64(seed, count):
    """`count` successive SplitMix64 outputs starting at state = seed."""
    mask = (1 << 64) - 1
    state = seed & mask
    out = []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(z ^ (z >> 31))
    return out


def lsh_projection(head_dim, buckets, seed):
    """R[D][nb/2] row-major, each draw z mapped to (z >> 40) * 2^-23 - 1 (exact in float32)."""
    half = buckets // 2
    values = [(z >> 40) * 2.0**-23 - 1.0 for z in splitmix64(seed, head_dim * half)]
    return np.array(values, dtype=np.float32).reshape(head_dim, half)


def lsh_buckets_of(x32, projection):
    """First argmax of [xR, -xR] along the last axis, in float32."""
    xr = x32 @ projection
    return np.argmax(np.concatenate([xr, -xr], axis=-1), axis=-1)


def lsh_mask(pb, params):
    projection = lsh_projection(pb.d, params["lsh_buckets"], params.get("lsh_seed", 0))
    q_buckets = lsh_buckets_of(pb.q32, projection)  # [B, Hq, Lq]
    k_buckets = pb.expand_kv(lsh_buckets_of(pb.k32, projection))  # [B, Hq, Lk]
    mask = q_buckets[..., :, None] == k_buckets[..., None, :]
    mask |= pb.keys[None, :] == pb.positions[:, None]  # own position p_i (when it is a key)
    return mask & pb.causal_allowed()


def block_mask_mask(pb, params, block_mask):
    b = params["block_size"]
    layout = np.asarray(block_mask) != 0  # [B, Hq or 1, nqb, nkb]
    element = layout[:, :, np.arange(pb.lq) // b][:, :, :, pb.keys // b]
    element = np.broadcast_to(element, (pb.batch, pb.hq, pb.lq, pb.lk))
    return element & pb.causal_allowed()


MASKS = {
    "dense": dense_mask,
    "sliding_window": sliding_window_mask,
    "block_local_global": block_local_global_mask,
    "block_topk": block_topk_mask,
    "nm_structured": nm_structured_mask,
    "topk_per_query": topk_per_query_mask,
    "lsh": lsh_mask,
}
ALIASES = {"sliding_global": "sliding_window", "bsr": "block_topk"}


# ---- landmark ---------------------------------------------------------------------------------------------------
def landmarks(k32, v32, k64, v64, m, iters):
    """Landmark keys [m, D] and values [m, Dv] (float64) of one (batch, kv head).

    Segments s = [floor(s*Lk/m), floor((s+1)*Lk/m)); with iters > 0, k-means on K in float32 started from the segment
    means (squared Euclidean distance, ties to the lower centroid, an empty cluster keeps its centroid and gets
    value zero); keys are the final centroids, values the mean of V over each final cluster.
    """
    lk = k32.shape[0]
    bounds = [(s * lk // m, (s + 1) * lk // m) for s in range(m)]
    assignment = np.empty(lk, dtype=np.int64)
    for s, (start, end) in enumerate(bounds):
        assignment[start:end] = s
    centroids = np.stack([k32[start:end].mean(axis=0, dtype=np.float32) for start, end in bounds])
    for _ in range(iters):
        distances = ((k32[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=-1, dtype=np.float32)
        assignment = np.argmin(distances, axis=1)  # first minimum: ties to the lower centroid
        for c in range(m):
            members = assignment == c
            if members.any():
                centroids[c] = k32[members].mean(axis=0, dtype=np.float32)
    keys = np.empty((m, k64.shape[1]))
    values = np.zeros((m, v64.shape[1]))
    for c in range(m):
        members = assignment == c
        if members.any():
            keys[c] = k64[members].mean(axis=0)
            values[c] = v64[members].mean(axis=0)
        else:
            keys[c] = centroids[c]
    return keys, values


def landmark_tensors(pb, params):
    """Landmark keys [B, Hk, m, D] and values [B, Hk, m, Dv] (float64); landmark is not defined with causal."""
    if pb.causal:
        raise ValueError("landmark is not defined with causal")
    m = params["num_landmarks"]
    iters = params.get("landmark_iters", 0)
    keys = np.empty((pb.batch, pb.hk, m, pb.d))
    values = np.empty((pb.batch, pb.hk, m, pb.dv))
    for bi in range(pb.batch):
        for h in range(pb.hk):
            keys[bi, h], values[bi, h] = landmarks(pb.k32[bi, h], pb.v32[bi, h], pb.k64[bi, h], pb.v64[bi, h], m,
                                                   iters)
    return keys, values


def landmark_attention(pb, params):
    keys, values = landmark_tensors(pb, params)
    mask = np.ones((pb.batch, pb.hq, pb.lq, keys.shape[2]), dtype=bool)
    return masked_attention(pb.q64, pb.expand_kv(keys), pb.expand_kv(values), mask, pb.scale)


# ---- attention over a mask ------------------------------------------------------------------------------------
def masked_softmax(scores, mask, v):
    """O and LSE (float64) of the softmax of scores restricted to mask, applied to v; empty rows give O = 0,
    LSE = -inf."""
    masked = np.where(mask, scores, NEG_INF)
    row_max = masked.max(axis=-1, keepdims=True)
    finite_max = np.where(np.isfinite(row_max), row_max, 0.0)
    weights = np.where(mask, np.exp(masked - finite_max), 0.0)
    total = weights.sum(axis=-1, keepdims=True)
    out = np.matmul(weights, v) / np.where(total > 0, total, 1.0)
    with np.errstate(divide="ignore"):
        lse = np.where(total[..., 0] > 0, np.log(total[..., 0]) + finite_max[..., 0], NEG_INF)
    return out, lse


def masked_attention(q, k, v, mask, scale):
    """O and LSE (float64) of softmax attention restricted to mask; empty rows give O = 0, LSE = -inf."""
    return masked_softmax(scale * np.matmul(q, np.swapaxes(k, -1, -2)), mask, v)


def kept_mask(q, k, v, pattern, params=None, causal=False, scale=None, block_mask=None):
    """bool [B, Hq, Lq, Lk]: the kept (query, key) pairs of a pattern (not landmark)."""
    params = dict(params or {})
    pattern = ALIASES.get(pattern, pattern)
    pb = Problem(q, k, v, causal, scale)
    if pattern == "block_mask":
        return block_mask_mask(pb, params, block_mask)
    return MASKS[pattern](pb, params)


def reference_attention(q, k, v, pattern="dense", params=None, causal=False, scale=None, block_mask=None):
    """(O, LSE) in float64 for Q [B, Hq, Lq, D], K [B, Hk, Lk, D], V [B, Hk, Lk, Dv]."""
    params = dict(params or {})
    pattern = ALIASES.get(pattern, pattern)
    pb = Problem(q, k, v, causal, scale)
    if pattern == "landmark":
        return landmark_attention(pb, params)
    if pattern == "block_mask":
        mask = block_mask_mask(pb, params, block_mask)
    else:
        mask = MASKS[pattern](pb, params)
    return masked_attention(pb.q64, pb.expand_kv(pb.k64), pb.expand_kv(pb.v64), mask, pb.scale)


# ---- integer precisions, simulated in float64 -------------------------------------------------------------------
QUANT_MAX = {"int8": 127, "int4": 7}


def _slice_scales(x, axis, qmax, given):
    """The quantisation scale of every slice of x along axis (kept as size 1): the given scale when > 0, else
    max |x| / qmax, and 1 for an all-zero slice."""
    if given:
        return np.full(np.max(np.abs(x), axis=axis, keepdims=True).shape, float(np.float32(given)))
    largest = np.max(np.abs(x), axis=axis, keepdims=True)
    return np.where(largest > 0, largest / qmax, 1.0)


def _quantise(x, scales, qmax):
    """x_q = clamp(round(x / s), -qmax, qmax); np.rint rounds halves to even."""
    return np.clip(np.rint(x / scales), -qmax, qmax)


def quantised_reference(q, k, v, precision, pattern="dense", params=None, causal=False, scale=None, block_mask=None):
    """(O, LSE) of the int8 / int4 computation of docs/patterns.md ("Precisions"), simulated in float64.

    Per batch and kv head: K (landmark: the m landmark keys) is smoothed by its mean key kbar; Q and the smoothed K
    are quantised with one scale per row, V (landmark: the landmark values) with one per channel, or every row or
    channel with the given scale_q / scale_k / scale_v. Scores are scale * s_q[i] * s_k[j] * (q_q[i] . k_q[j]) (an
    exact integer dot product), the softmax runs over the kept keys (selected from the inputs as given),
    O[i, c] = s_v[c] * sum_j p_ij v_q[j, c] / sum_j p_ij, and LSE_i gets scale * q_i . kbar back.
    """
    params = dict(params or {})
    pattern = ALIASES.get(pattern, pattern)
    qmax = QUANT_MAX[precision]
    pb = Problem(q, k, v, causal, scale)
    for name, x in (("q", pb.q64), ("k", pb.k64), ("v", pb.v64)):
        if not np.isfinite(x).all():
            raise ValueError(f"{name} holds a non-finite value; quantised computations need finite inputs")
    if pattern == "landmark":
        keys, values = landmark_tensors(pb, params)
        mask = np.ones((pb.batch, pb.hq, pb.lq, keys.shape[2]), dtype=bool)
    else:
        keys, values = pb.k64, pb.v64
        mask = block_mask_mask(pb, params, block_mask) if pattern == "block_mask" else MASKS[pattern](pb, params)

    kbar = keys.mean(axis=2, keepdims=True)  # [B, Hk, 1, D]
    smoothed = keys - kbar
    k_scales = _slice_scales(smoothed, -1, qmax, params.get("scale_k"))  # [B, Hk, R, 1]
    v_scales = _slice_scales(values, 2, qmax, params.get("scale_v"))  # [B, Hk, 1, Dv]
    q_scales = _slice_scales(pb.q64, -1, qmax, params.get("scale_q"))  # [B, Hq, Lq, 1]
    k_int = _quantise(smoothed, k_scales, qmax)
    v_int = _quantise(values, v_scales, qmax)
    q_int = _quantise(pb.q64, q_scales, qmax)

    dots = np.matmul(q_int, np.swapaxes(pb.expand_kv(k_int), -1, -2))  # integers below 2^53: exact
    scores = pb.scale * q_scales * np.swapaxes(pb.expand_kv(k_scales), -1, -2) * dots
    out, lse = masked_softmax(scores, mask, pb.expand_kv(v_int))
    shift = pb.scale * np.matmul(pb.q64, np.swapaxes(pb.expand_kv(kbar), -1, -2))[..., 0]  # [B, Hq, Lq]
    return out * pb.expand_kv(v_scales), lse + shift
