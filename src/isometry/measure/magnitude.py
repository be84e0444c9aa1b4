"""Metric space magnitude: weighting vectors, magnitude, the magnitude function and dimension.

For points ``x_1..x_n`` and a scale ``t > 0`` the similarity matrix is
``Z_ij = exp(-t ||x_i - x_j||)``; the weighting vector ``w`` solves ``Z w = 1`` and the
magnitude is ``sum(w)`` (Leinster, "The magnitude of metric spaces", 2013). At ``t = 0``
the magnitude is 1 (the one-point property, as in magnipy). Applications: "Practical
applications of metric space magnitude and weighting vectors" (Bunch et al., 2020),
"Weighting vectors for machine learning" (Bunch et al., 2021), "The magnitude vector of
images" (Adamer et al., 2024), "Metric Space Magnitude for Evaluating the Diversity of
Latent Representations" (Limbeck et al., 2024).

Exact duplicates are one point of the metric space: magnitude is computed on the
distinct rows and each duplicate gets an equal share of its point's weight (the
minimum-norm weighting). Solvers: see :mod:`isometry.measure._solver`.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
from scipy.optimize import brentq
from tqdm.auto import tqdm

from .._backend import DEFAULT_MEMORY_BUDGET, to_numpy
from .._validate import Interval, Options, check_embeddings, check_param
from ..errors import ConvergenceWarning, InputError
from ._solver import NystromPreconditioner, SimilarityOperator, cholesky_weights, pcg

__all__ = [
    "weighting_vector",
    "magnitude",
    "magnitude_function",
    "magnitude_dimension",
    "convergence_scale",
    "MagnitudeFunction",
    "SolverOptions",
]

#: Largest n solved by dense Cholesky under ``method="auto"``.
CHOLESKY_MAX = 2500
#: Bytes the dense CG path may hold (distance matrix + similarity buffer, float64).
DENSE_BUDGET = 1536 * 2**20


@dataclass(frozen=True)
class SolverOptions:
    """How magnitude solves ``Z w = 1`` (shared by every function of this module).

    Attributes
    ----------
    tol : float, default=1e-10
        Relative tolerance: of the residual for weighting vectors, of the magnitude
        itself for :func:`magnitude` and :func:`magnitude_function`.
    max_iter : int, default=1000
        Conjugate-gradient iterations per scale.
    rank : int, default=200
        Landmarks of the Nyström preconditioner.
    dtype : {"float64", "float32"}
        Precision of matrix-free blocks (large n only); float32 is about twice as fast,
        with relative errors near 1e-6.
    budget : int, optional
        Bytes the dense path may hold (distance matrix + similarity buffer); above it,
        products are computed matrix-free in row blocks. Default 1.5 GiB.
    seed : int, default=0
        Landmark choice of the preconditioner.
    """

    tol: float = 1e-10
    max_iter: int = 1000
    rank: int = 200
    dtype: str = "float64"
    budget: int | None = None
    seed: int = 0


class MagnitudeFunction(NamedTuple):
    """Magnitude evaluated at several scales: ``scales`` (m,) and ``values`` (m,)."""

    scales: np.ndarray
    values: np.ndarray


def weighting_vector(X: Any, scale: float = 1.0, *, method: str = "auto",
                     options: SolverOptions | None = None) -> Any:
    """Weighting vector ``w`` with ``exp(-t D) w = 1`` for the rows of ``X``.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n, d)
        Points (Euclidean distances). Duplicated rows share their point's weight equally.
    scale : float, default=1.0
        ``t >= 0``; at 0 every distinct point weighs ``1 / n_distinct``.
    method : {"auto", "cholesky", "cg"}
        ``auto``: Cholesky up to 2,500 distinct points, preconditioned conjugate
        gradients beyond (matrix-free above ``options.budget``).
    options : SolverOptions, optional
        Tolerance, iterations, preconditioner rank, block precision, memory budget.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (n,)
        float64, in input order, of the input's kind.

    Examples
    --------
    >>> import numpy as np
    >>> w = weighting_vector(np.array([[0.0], [1.0]]), scale=1.0)
    >>> round(float(w.sum()), 6) == round(1 + math.tanh(0.5), 6)
    True
    """
    points, inverse, counts = _distinct(X)
    check_param(scale, "scale", "weighting_vector", Interval(numbers.Real, 0, None))
    w = _Solver(points, method, options).solve_scales([float(scale)])[0]
    out = (w[inverse] / counts[inverse]).astype(np.float64)
    return torch.from_numpy(out).to(X.device) if isinstance(X, torch.Tensor) else out


def magnitude(X: Any, scale: float = 1.0, *, method: str = "auto", options: SolverOptions | None = None) -> float:
    """Magnitude ``sum(w)`` of the rows of ``X`` at scale ``t`` (see :func:`weighting_vector`).

    Examples
    --------
    >>> import numpy as np
    >>> round(magnitude(np.array([[0.0], [2.0], [3.0]]), 1.0), 6)  # 1 + tanh(1) + tanh(0.5)
    2.223711
    """
    points, _, _ = _distinct(X)
    check_param(scale, "scale", "magnitude", Interval(numbers.Real, 0, None))
    return float(_Solver(points, method, options).magnitudes([float(scale)])[0])


def magnitude_function(X: Any, scales: Any = None, *, n_scales: int = 20, target: float = 0.95,
                       progress: bool | None = None, method: str = "auto",
                       options: SolverOptions | None = None) -> MagnitudeFunction:
    """Magnitude at several scales, warm-starting each solve from the previous one.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n, d)
    scales : array-like of float, optional
        Scales ``>= 0``. Default: ``linspace(0, t_conv, n_scales)`` where ``t_conv`` is
        :func:`convergence_scale` (magnitude reaches ``target`` times the number of points;
        the convention of Limbeck et al. 2024 and magnipy).
    n_scales : int, default=20
    target : float, default=0.95
    progress : bool, optional
        Progress bar over scales (default: when more than 4,000 points).
    method, options
        As in :func:`weighting_vector`.

    Returns
    -------
    MagnitudeFunction
        ``scales`` (m,) and ``values`` (m,) as float64 numpy arrays (scales sorted).
    """
    points, _, _ = _distinct(X)
    check_param(n_scales, "n_scales", "magnitude_function", Interval(numbers.Integral, 2, None))
    check_param(target, "target", "magnitude_function", Interval(numbers.Real, 0, 1, "neither"))
    solver = _Solver(points, method, options)
    if scales is None:
        t_conv = solver.convergence_scale(target)
        ts = np.linspace(0.0, t_conv, n_scales)
    else:
        ts = _check_scales(scales)
    if progress is None:
        progress = points.shape[0] > 4000
    return MagnitudeFunction(ts, solver.magnitudes(list(ts), progress=progress))


def convergence_scale(X: Any, target: float = 0.95, *, method: str = "auto",
                      options: SolverOptions | None = None) -> float:
    """Scale ``t_conv`` at which the magnitude reaches ``target`` times the number of points.

    A cheap bracket first: for large ``t`` the magnitude is ``n - S(t) + O(S^2)`` with
    ``S(t) = sum_{i != j} exp(-t d_ij)``, evaluated on the 32 nearest neighbours of each
    point; then a few warm-started solves (Brent's method, relative tolerance 1e-3) near
    that scale, where ``Z`` is close to the identity and CG converges in a few steps.
    """
    points, _, _ = _distinct(X)
    check_param(target, "target", "convergence_scale", Interval(numbers.Real, 0, 1, "neither"))
    return _Solver(points, method, options).convergence_scale(target)


def magnitude_dimension(X: Any, scales: Any = None, *, n_scales: int = 20, method: str = "auto",
                        options: SolverOptions | None = None) -> float:
    """Magnitude dimension: the largest slope of ``log |tX|`` against ``log t``.

    From "Magnitude, diversity, capacities, and dimensions of metric spaces" (Meckes,
    2015) as estimated in "Metric Space Magnitude and Generalisation in Neural Networks"
    (Andreeva et al., 2023) and magnipy: secant slopes between consecutive positive scales
    of :func:`magnitude_function`, maximum over the profile.

    Returns
    -------
    float
    """
    fn = magnitude_function(X, scales, n_scales=n_scales, method=method, options=options)
    keep = fn.scales > 0
    if keep.sum() < 2:
        raise InputError("magnitude_dimension needs at least two positive scales.")
    slopes = np.diff(np.log(fn.values[keep])) / np.diff(np.log(fn.scales[keep]))
    return float(slopes.max())


# --------------------------------------------------------------------------------------


def _distinct(X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows (float64), the inverse map and the multiplicities."""
    x = check_embeddings(X, name="X", allow_torch=False)
    x = np.asarray(x, dtype=np.float64)
    points, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    return points, inverse.reshape(-1), counts


def _check_scales(scales: Any) -> np.ndarray:
    ts = np.asarray(to_numpy(scales), dtype=np.float64).reshape(-1)
    if ts.size == 0:
        raise InputError("scales is empty; give at least one scale >= 0.")
    if not np.all(np.isfinite(ts)) or np.any(ts < 0):
        raise InputError(f"scales must be finite and >= 0; got {ts[~(np.isfinite(ts) & (ts >= 0))][:5].tolist()}.")
    return np.sort(ts)


class _Solver:
    """Chooses and runs a solver for one set of distinct points over several scales."""

    def __init__(self, points: np.ndarray, method: str, options: SolverOptions | None) -> None:
        owner = "magnitude"
        o = SolverOptions() if options is None else options
        if not isinstance(o, SolverOptions):
            raise InputError(f"options must be a SolverOptions; got {type(o).__name__}.")
        check_param(method, "method", owner, Options(("auto", "cholesky", "cg")))
        check_param(o.tol, "tol", owner, Interval(numbers.Real, 0, 1, "neither"))
        check_param(o.max_iter, "max_iter", owner, Interval(numbers.Integral, 1, None))
        check_param(o.rank, "rank", owner, Interval(numbers.Integral, 1, None))
        check_param(o.dtype, "dtype", owner, Options(("float64", "float32")))
        check_param(o.budget, "budget", owner, None, Interval(numbers.Integral, 1, None))
        check_param(o.seed, "seed", owner, Interval(numbers.Integral, 0, None))
        tol, max_iter, rank, dtype, budget, seed = o.tol, o.max_iter, o.rank, o.dtype, o.budget, o.seed
        n = points.shape[0]
        budget = DENSE_BUDGET if budget is None else budget
        dense = 16 * n * n <= budget
        if method == "cholesky" and not dense:
            raise InputError(f"method='cholesky' needs {16 * n * n / 2**30:.1f} GiB for n={n}; "
                             "use method='cg' or raise budget.")
        self.method = method if method != "auto" else ("cholesky" if n <= CHOLESKY_MAX else "cg")
        block_dtype = torch.float64 if (dense or dtype == "float64") else torch.float32
        self.n = n
        self.op = SimilarityOperator(torch.from_numpy(points), dense=dense, block_dtype=block_dtype,
                                     budget=DEFAULT_MEMORY_BUDGET)
        self.tol = max(tol, 1e-6) if block_dtype == torch.float32 else tol
        self.max_iter, self.rank, self.seed = max_iter, rank, seed
        self._last = None

    def solve_scales(self, ts: list[float], progress: bool = False) -> list[np.ndarray]:
        """Weighting vectors at each scale (residual tolerance)."""
        bar = tqdm(ts, desc="magnitude", unit="scale", disable=None if progress else True, leave=False)
        return [self.solve(t)[0].numpy() for t in bar]

    def magnitudes(self, ts: list[float], progress: bool = False) -> np.ndarray:
        """Magnitude at each scale (tolerance on the magnitude itself)."""
        bar = tqdm(ts, desc="magnitude", unit="scale", disable=None if progress else True, leave=False)
        return np.array([self.solve(t, functional=True)[1] for t in bar])

    def solve(self, t: float, functional: bool = False) -> tuple[torch.Tensor, float]:
        """``(weights, magnitude)`` at scale ``t``."""
        if t == 0.0 or self.n == 1:
            return torch.full((self.n,), 1.0 / self.n, dtype=torch.float64), 1.0
        self.op.set_scale(t)
        if self.method == "cholesky":
            w = cholesky_weights(self.op)
            if w is not None:
                return w, float(w.sum())
            warnings.warn(f"the similarity matrix at scale {t:g} is numerically singular for Cholesky; "
                          "using conjugate gradients.", ConvergenceWarning, stacklevel=4)
        precond = NystromPreconditioner(self.op, self.rank, self.seed) if self.n > 64 else None
        w, mag = pcg(self.op, precond, self._last, tol=self.tol, max_iter=self.max_iter, functional=functional)
        self._last = w
        return w, mag

    def convergence_scale(self, target: float) -> float:
        if self.n < 2:
            raise InputError("the convergence scale needs at least 2 distinct points.")
        goal = target * self.n
        t0 = self._first_order_scale(goal)
        f = lambda t: self.solve(t, functional=True)[1] - goal  # noqa: E731
        lo, hi = t0 / 2, t0
        f_lo, f_hi = f(lo), f(hi)
        for _ in range(60):
            if f_lo <= 0 <= f_hi:
                break
            if f_hi < 0:
                lo, f_lo, hi = hi, f_hi, hi * 2
                f_hi = f(hi)
            else:
                hi, f_hi, lo = lo, f_lo, lo / 2
                f_lo = f(lo)
        else:
            raise InputError(f"no scale found where magnitude reaches {target} x n.")
        return float(brentq(f, lo, hi, rtol=1e-3, xtol=1e-12 * hi))

    def _first_order_scale(self, goal: float) -> float:
        from ..distances import knn

        k = min(self.n - 1, 32)
        d = knn(self.op.X, k=k, backend="torch").distances
        d = d[d > 0]
        excess = self.n - goal
        s = lambda t: float(torch.exp(-t * d).sum())  # noqa: E731
        lo, hi = 1e-12, 1.0 / float(d.min())
        while s(hi) > excess:
            hi *= 2
        for _ in range(60):
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if s(mid) > excess else (lo, mid)
        return hi
