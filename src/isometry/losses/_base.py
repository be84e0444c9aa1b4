"""Shared machinery of losses and miners: distances, labels, index tuples, masks, reductions.

Everything here is private: public losses validate their input once (``prepare_batch``)
and then compute with dense masks over the (n, m) distance matrix, never with Python
loops over pairs or triplets.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

import numpy as np
import torch

from .. import distances as D
from .._validate import Interval, Options, check_embeddings, check_labels, check_param, encode_labels
from ..errors import InputError
from ._fused import normalized_pairwise

REAL = Interval(numbers.Real, None, None)
NONNEG = Interval(numbers.Real, 0, None)
POSITIVE = Interval(numbers.Real, 0, None, closed="neither")
POS_INT = Interval(numbers.Integral, 1, None)

_FUNCTIONS = {
    "euclidean": D.euclidean,
    "sqeuclidean": D.sqeuclidean,
    "cosine_similarity": D.cosine_similarity,
    "dot": D.dot,
    "snr": D.snr,
}
_FLOOR = {torch.float16: 1e-7, torch.bfloat16: 1e-7, torch.float32: 1e-30, torch.float64: 1e-300}
# On normalized rows the dot product is the cosine similarity.
_FUSED = {"euclidean": "euclidean", "sqeuclidean": "sqeuclidean", "cosine_similarity": "cosine_similarity",
          "dot": "cosine_similarity"}
_PML_NAMES = {"CosineSimilarity": "cosine_similarity", "DotProductSimilarity": "dot", "SNRDistance": "snr"}


class Distance:
    """A distance or similarity between embeddings, with PML's distance-object semantics.

    Parameters
    ----------
    name : {"euclidean", "sqeuclidean", "cosine_similarity", "dot", "snr"}
        Similarities (``cosine_similarity``, ``dot``) are *inverted*: larger is closer.
    normalize_embeddings : bool, default=True
        L2-normalize rows first (PML's default for every distance, the dot product included).
    power : float, default=1
        Raise the matrix to this power (``euclidean`` with power 2 is ``sqeuclidean``).

    Notes
    -----
    On normalized rows with power 1 (every loss's default) the matrix is one autograd node
    with a closed-form backward (:func:`isometry.losses._fused.normalized_pairwise`); a
    point's distance to itself then has a zero gradient.
    """

    def __init__(self, name: str = "euclidean", *, normalize_embeddings: bool = True, power: float = 1) -> None:
        check_param(name, "name", "Distance", Options(_FUNCTIONS))
        check_param(normalize_embeddings, "normalize_embeddings", "Distance", bool)
        check_param(power, "power", "Distance", POSITIVE)
        if name == "euclidean" and power == 2:
            name, power = "sqeuclidean", 1
        self.name, self.normalize_embeddings, self.power = name, normalize_embeddings, power
        self.is_inverted = name in ("cosine_similarity", "dot")
        self._fn = _FUNCTIONS[name]

    def __repr__(self) -> str:
        return f"Distance({self.name!r}, normalize_embeddings={self.normalize_embeddings}, power={self.power})"

    def maybe_normalize(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(x, dim=1) if self.normalize_embeddings else x

    def __call__(self, query: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        if self.normalize_embeddings and self.power == 1 and self.name in _FUSED:
            same = ref is None or ref is query
            return normalized_pairwise(query, None if same else ref, _FUSED[self.name], _FLOOR[query.dtype])
        q = self.maybe_normalize(query)
        r = q if ref is None or ref is query else self.maybe_normalize(ref)
        if self.name == "cosine_similarity":
            mat = q @ r.T if self.normalize_embeddings else D.cosine_similarity(q, r)
        elif self.normalize_embeddings and self.name in ("euclidean", "sqeuclidean"):
            # |q|^2 + |r|^2 - 2 q.r in one GEMM and one add (norms are 1, or 0 for zero rows). The
            # floor keeps sqrt's slope finite at coincident points (their gradient is 0, as in cdist).
            q_sq = (q * q).sum(1, keepdim=True)
            r_sq = q_sq.T if r is q else (r * r).sum(1).unsqueeze(0)
            sq = torch.addmm(q_sq, q, r.T, alpha=-2.0).add_(r_sq).clamp_min(_FLOOR[q.dtype])
            mat = sq.sqrt() if self.name == "euclidean" else sq
        else:
            mat = self._fn(q, r)
        return mat if self.power == 1 else mat**self.power

    def margin(self, x: Any, y: Any) -> Any:
        """How far ``x`` is beyond ``y`` in the "farther" direction (PML's ``margin``)."""
        return y - x if self.is_inverted else x - y


def fusable(distance: Any, names: tuple[str, ...]) -> bool:
    """Whether ``distance`` is an isometry Distance on normalized rows, power 1, named one of ``names``."""
    return (isinstance(distance, Distance) and distance.normalize_embeddings and distance.power == 1
            and distance.name in names)


def resolve_distance(spec: Any, default: Distance, owner: str) -> Any:
    """Turn ``distance=`` (None, a name, a :class:`Distance`, or a PML distance object) into a callable."""
    if spec is None:
        return default
    if isinstance(spec, Distance):
        return spec
    if isinstance(spec, str):
        check_param(spec, "distance", owner, Options(_FUNCTIONS))
        return Distance(spec)
    kind = type(spec).__name__
    if kind == "LpDistance" and getattr(spec, "p", 2) == 2:
        return Distance("euclidean", normalize_embeddings=spec.normalize_embeddings, power=spec.power)
    if kind in _PML_NAMES:
        return Distance(_PML_NAMES[kind], normalize_embeddings=spec.normalize_embeddings, power=spec.power)
    if hasattr(spec, "is_inverted") and callable(spec) and hasattr(spec, "margin"):
        return spec  # any object with PML's distance interface
    raise InputError(
        f"The 'distance' parameter of {owner} must be None, a name ({', '.join(_FUNCTIONS)}), "
        f"an isometry.losses.Distance or a PML distance object. Got {spec!r} instead."
    )


def require_distance(distance: Any, names: tuple[str, ...], owner: str) -> None:
    """Raise unless the distance is one of ``names`` (e.g. losses defined on cosine similarity)."""
    if getattr(distance, "name", None) not in names:
        raise InputError(f"{owner} needs distance {' or '.join(names)}; got {distance!r}.")


# ------------------------------------------------------------------------------ batches


class Batch(NamedTuple):
    """A validated batch: embeddings, int64 label codes (or None), reference and a self flag."""

    embeddings: torch.Tensor
    labels: torch.Tensor | None
    ref_emb: torch.Tensor
    ref_labels: torch.Tensor | None
    self_ref: bool


def check_tensor(x: Any, owner: str, name: str) -> torch.Tensor:
    if not torch.is_tensor(x):
        raise InputError(f"{owner} takes {name} as a torch.Tensor; got {type(x).__name__}.")
    if x.ndim != 2 or x.shape[0] == 0 or not x.is_floating_point():
        check_embeddings(x, name=name)
        raise InputError(f"{name} must be a floating-point tensor; got dtype {x.dtype}.")
    if not math.isfinite(x.detach().sum()):  # a finite sum means finite entries (one reduction)
        check_embeddings(x, name=name)
    return x


def _is_int_tensor(y: Any) -> bool:
    return torch.is_tensor(y) and not y.is_floating_point() and not y.is_complex() and y.dtype != torch.bool


def label_codes(labels: Any, ref_labels: Any, n: int, m: int, device: torch.device) -> tuple:
    """Labels as int64 tensors on ``device``; non-integer labels get shared codes (never a float cast)."""
    if labels is None:
        return None, None
    if ref_labels is None and _is_int_tensor(labels) and labels.ndim == 1 and labels.shape[0] == n:
        y = labels.to(device=device, dtype=torch.int64)
        return y, None
    if _is_int_tensor(labels) and _is_int_tensor(ref_labels) and labels.ndim == ref_labels.ndim == 1:
        if labels.shape[0] == n and ref_labels.shape[0] == m:
            return labels.to(device=device, dtype=torch.int64), ref_labels.to(device=device, dtype=torch.int64)
    y = check_labels(labels, n)
    if ref_labels is None:
        (codes,), _ = encode_labels(y)
        return torch.as_tensor(codes, device=device), None
    yr = check_labels(ref_labels, m, name="ref_labels")
    (codes, ref_codes), _ = encode_labels(y, yr)
    return torch.as_tensor(codes, device=device), torch.as_tensor(ref_codes, device=device)


def prepare_batch(owner: str, embeddings: Any, labels: Any, ref_emb: Any = None, ref_labels: Any = None,
                  *, labels_required: bool = True) -> Batch:
    """Validate a loss's or miner's inputs once: shapes, NaN rows, labels, reference set."""
    emb = check_tensor(embeddings, owner, "embeddings")
    if labels is None and labels_required:
        raise InputError(f"{owner} needs labels (one per embedding row).")
    if ref_emb is None:
        if ref_labels is not None:
            raise InputError(f"{owner} got ref_labels without ref_emb.")
        y, _ = label_codes(labels, None, emb.shape[0], emb.shape[0], emb.device)
        return Batch(emb, y, emb, y, True)
    ref = check_tensor(ref_emb, owner, "ref_emb")
    if ref.shape[1] != emb.shape[1]:
        raise InputError(f"embeddings have {emb.shape[1]} features but ref_emb has {ref.shape[1]}.")
    if labels is not None and ref_labels is None:
        raise InputError(f"{owner} got ref_emb without ref_labels.")
    y, yr = label_codes(labels, ref_labels, emb.shape[0], ref.shape[0], emb.device)
    return Batch(emb, y, ref, yr, False)


def class_indices(labels: torch.Tensor, num_classes: int, owner: str) -> torch.Tensor:
    """Check labels are class indices ``0 <= y < num_classes`` (proxy and softmax losses)."""
    if labels.numel() == 0:
        return labels
    low, high = (int(v) for v in torch.aminmax(labels))
    if low < 0 or high >= num_classes:
        raise InputError(
            f"{owner} needs integer labels in [0, {num_classes}); got labels from {low} to {high}. "
            "Map them to class indices (e.g. with numpy.unique(..., return_inverse=True))."
        )
    return labels


# ------------------------------------------------------------------------------ index tuples


def as_indices(indices_tuple: Any, n: int, m: int, device: torch.device, owner: str) -> tuple | None:
    """Check a miner's output: (anchors, positives, negatives) or (a1, p, a2, n), as int64 tensors."""
    if indices_tuple is None:
        return None
    if not isinstance(indices_tuple, (tuple, list)) or len(indices_tuple) not in (3, 4):
        raise InputError(f"indices_tuple of {owner} must be a tuple of 3 (triplets) or 4 (pairs) index arrays.")
    out = tuple(torch.as_tensor(t, device=device).reshape(-1).long() for t in indices_tuple)
    bounds = (n, m, m) if len(out) == 3 else (n, m, n, m)
    if not _inside(out, bounds):
        outside = [bool(((t < 0) | (t >= hi)).any()) for t, hi in zip(out, bounds)]
        k = outside.index(True)
        raise InputError(f"indices_tuple[{k}] of {owner} has indices outside [0, {bounds[k]}).")
    if len(out) == 3 and not out[0].shape == out[1].shape == out[2].shape:
        raise InputError(f"indices_tuple of {owner}: anchors, positives and negatives differ in length.")
    if len(out) == 4 and (out[0].shape != out[1].shape or out[2].shape != out[3].shape):
        raise InputError(f"indices_tuple of {owner}: a1/p or a2/n differ in length.")
    return out


def _inside(indices: tuple, bounds: tuple) -> bool:
    """Whether each index array lies in [0, its bound); one min/max pass when the bounds agree."""
    if len(set(bounds)) > 1:
        return all(_inside((t,), (hi,)) for t, hi in zip(indices, bounds))
    flat = torch.cat(indices)
    if flat.numel() == 0:
        return True
    low, high = torch.aminmax(flat)
    return bool(low >= 0) and bool(high < bounds[0])


def to_pairs(indices: tuple) -> tuple:
    """Triplets (a, p, n) -> pairs (a, p, a, n); pairs pass through."""
    return indices if len(indices) == 4 else (indices[0], indices[1], indices[0], indices[2])


def to_triplets(indices: tuple) -> tuple:
    """Pairs (a1, p, a2, n) -> every triplet whose two pairs share the anchor; triplets pass through."""
    if len(indices) == 3:
        return indices
    a1, p, a2, n = indices
    pi, ni = torch.where(a1.unsqueeze(1) == a2)
    return a1[pi], p[pi], n[ni]


def pair_masks(batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Boolean (n, m) masks of positive pairs (same label, not oneself) and negative pairs."""
    same = batch.labels.unsqueeze(1) == batch.ref_labels.unsqueeze(0)
    neg = ~same
    if batch.self_ref:
        same.fill_diagonal_(False)
    return same, neg


def tuple_pair_weights(indices: tuple, shape: tuple, dtype: torch.dtype, *, counts: bool) -> tuple:
    """(n, m) weights of the positive and negative pairs of a tuple; ``counts`` keeps duplicates."""
    a1, p, a2, n = to_pairs(indices)
    device = a1.device
    pos = torch.zeros(shape, dtype=dtype, device=device)
    neg = torch.zeros(shape, dtype=dtype, device=device)
    pos.index_put_((a1, p), torch.ones_like(a1, dtype=dtype), accumulate=counts)
    neg.index_put_((a2, n), torch.ones_like(a2, dtype=dtype), accumulate=counts)
    return pos, neg


def pair_weights(batch: Batch, indices: tuple | None, dtype: torch.dtype, *, counts: bool) -> tuple:
    """Positive and negative pair weights from labels (all pairs) or from a miner's tuple."""
    if indices is None:
        return pair_masks(batch)  # boolean masks: weight 1 per pair
    return tuple_pair_weights(indices, (batch.embeddings.shape[0], batch.ref_emb.shape[0]), dtype, counts=counts)


def few_pairs(indices: tuple | None, pos_w: torch.Tensor, neg_w: torch.Tensor) -> bool:
    """PML's guard for pair losses: no loss when there are at most one positive and one negative pair."""
    if indices is not None:
        return all(t.numel() <= 1 for t in to_pairs(indices))
    return bool(pos_w.sum() <= 1) and bool(neg_w.sum() <= 1)


def miner_weights(indices: tuple | None, n: int, dtype: torch.dtype, device, *, using_ref: bool = False):
    """Per-row weight = appearances in the tuple / the most appearances (PML's convert_to_weights)."""
    if indices is None or all(t.numel() == 0 for t in indices):
        return torch.ones(n, dtype=dtype, device=device)
    if using_ref:
        idx = indices[0] if len(indices) == 3 else torch.cat([indices[0], indices[2]])
    else:
        idx = torch.cat(indices)
    counts = torch.bincount(idx, minlength=n)[:n].to(dtype)
    return counts / counts.max()


def padded_positives(pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Column indices of each row's positives, padded to the longest row, and their validity mask."""
    count = pos.sum(dim=1)
    width = int(count.max()) if count.numel() else 0
    order = torch.argsort((~pos).to(torch.int8), dim=1, stable=True)[:, :width]
    valid = torch.arange(width, device=pos.device) < count.unsqueeze(1)
    return order, valid


# ------------------------------------------------------------------------------ reductions


def masked_logsumexp(x: torch.Tensor, keep: torch.Tensor, dim: int, *, add_one: bool,
                     upper: float | None = None) -> torch.Tensor:
    """log(sum over kept entries of w * exp(x)) [+ exp(0) when ``add_one``]; 0 where nothing is kept.

    ``keep`` is a boolean mask or non-negative weights (duplicate counts). ``upper``, when the
    caller knows ``x <= upper`` (e.g. scaled cosine similarities), allows summing ``exp(x)``
    directly, without the max shift, when that cannot overflow. Otherwise masked entries get
    the dtype's most negative finite value, so empty rows have finite, zero gradients.
    """
    mask = keep if keep.dtype == torch.bool else keep > 0
    if upper is not None and upper < _EXP_SAFE.get(x.dtype, 0.0):
        terms = torch.exp(x)
        terms = torch.where(mask, terms, 0.0) if keep.dtype == torch.bool else terms * keep
        total = terms.sum(dim=dim)
        if add_one:
            return torch.log1p(total)
        tiny = torch.finfo(x.dtype).tiny
        return torch.log(total.clamp_min(tiny)).masked_fill(~mask.any(dim=dim), 0.0)
    lowest = torch.finfo(x.dtype).min
    if keep.dtype == torch.bool:
        z = x.masked_fill(~keep, lowest)
    else:
        z = (x + torch.log(keep.clamp_min(1e-30))).masked_fill(~mask, lowest)
    out = torch.logsumexp(z, dim=dim)
    if add_one:
        out = torch.nn.functional.softplus(out)  # log(1 + sum) = log(exp(0) + exp(lse))
    return out.masked_fill(~mask.any(dim=dim), 0.0)


_EXP_SAFE = {torch.float32: 80.0, torch.float64: 700.0}


def cosine_bound(distance: Any, bound: float) -> float | None:
    """``bound`` when ``distance`` is the cosine similarity (values in [-1, 1]), else None."""
    return bound if getattr(distance, "name", None) == "cosine_similarity" else None


def as_mask(weights: torch.Tensor) -> torch.Tensor:
    """Boolean view of pair weights (masks pass through)."""
    return weights if weights.dtype == torch.bool else weights > 0


def avg_nonzero(losses: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean over the (weighted) losses above zero; zero (with a graph) when none is (PML's AvgNonZero)."""
    active = losses > 0
    if weights is not None and weights.dtype == torch.bool:
        active = active & weights
        weights = None
    if weights is not None:
        active = active & (weights > 0)
        total = torch.where(active, losses * weights, 0.0).sum()
        count = torch.where(active, weights, 0.0).sum()
    else:
        total = torch.where(active, losses, 0.0).sum()
        count = active.sum()
    return total / count.clamp_min(1)


def zero_loss(embeddings: torch.Tensor) -> torch.Tensor:
    """A zero that still carries a graph (PML returns the same)."""
    return (embeddings * 0).sum()


def as_numpy_labels(labels: Any) -> np.ndarray:
    return labels.detach().cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)


def batch_and_indices(owner: str, embeddings: Any, labels: Any, indices_tuple: Any, ref_emb: Any, ref_labels: Any,
                      *, labels_required: bool | None = None) -> tuple[Batch, tuple | None]:
    """``prepare_batch`` then ``as_indices``: the whole boundary of a loss's forward."""
    need = indices_tuple is None if labels_required is None else labels_required
    batch = prepare_batch(owner, embeddings, labels, ref_emb, ref_labels, labels_required=need)
    idx = as_indices(indices_tuple, batch.embeddings.shape[0], batch.ref_emb.shape[0], batch.embeddings.device, owner)
    return batch, idx
