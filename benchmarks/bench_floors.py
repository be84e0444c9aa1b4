"""The fixed costs under a small fit, next to a tenth of the peer's time.

    python benchmarks/bench_floors.py [--sets wine digits] [--only NCA LSML SDML] [--repeats 50]

On wine (89 training rows) metric-learn's NCA, LSML and SDML fits take 3-6 ms, so a
10x faster fit must take 0.3-0.6 ms in all. This script measures the library calls that
an isometry fit cannot leave out, on the same data, and compares their sum (the floor)
with that target:

- validation: scikit-learn's ``validate_data`` on (X, y), which every supervised fit
  runs (its estimator checks require it);
- seeding: ``check_random_state(0)``, for the learners that draw pairs from the labels
  with a seeded ``RandomState`` (metric-learn's ``random_state`` convention);
- optimizer: scipy's L-BFGS-B for as many iterations as isometry's fit used, with the
  same number of variables, on a quadratic that costs next to nothing to evaluate (for
  the learners that optimize with it: NCA, LSML).

Fits are timed by ``bench_learn.compare`` (peer and isometry interleaved in this
process after a warm-up); times are medians in milliseconds. A floor above the target means a
10x faster fit cannot be built on these libraries' public calls, whatever the rest of the
fit costs. Most of the optimizer's part is ``scipy.optimize.minimize``'s Python layer; a
loop over scipy's private ``_lbfgsb.setulb`` would cost about a third (RESULTS.md).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from scipy.optimize import minimize
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from bench_learn import ALGORITHMS, CURRENT, compare, datasets, iso

#: learner -> (draws pairs with a seeded RandomState, optimizes with scipy's L-BFGS-B)
FLOOR_PARTS = {"NCA": (False, True), "LSML": (True, True), "SDML": (True, False)}


def median_ms(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def lbfgs_ms(n_variables: int, iterations: int, repeats: int) -> float:
    """L-BFGS-B's own cost for ``iterations`` iterations on ``n_variables`` variables.

    The quadratic's condition number (1e6) keeps L-BFGS-B from converging earlier;
    each evaluation is a few vector operations.
    """
    scale = np.logspace(0, 6, n_variables)
    x0 = np.ones(n_variables)

    def quadratic(x: np.ndarray) -> tuple[float, np.ndarray]:
        g = scale * x
        return 0.5 * float(x @ g), g

    def run():
        return minimize(quadratic, x0, jac=True, method="L-BFGS-B", options={"maxiter": iterations})

    used = run().nit
    if used != iterations:
        raise RuntimeError(f"the quadratic stopped after {used} of {iterations} iterations")
    return median_ms(run, repeats)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", nargs="+", default=["wine", "digits"])
    ap.add_argument("--only", nargs="*", default=list(FLOOR_PARTS))
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    print(f"{'set':8} {'learner':7} {'peer ms':>8} {'target':>7} {'iso ms':>7} {'ratio':>6} {'valid.':>7} "
          f"{'seed':>6} {'L-BFGS':>7} {'its':>4} {'floor':>7} {'floor/target':>12}")
    for set_name, (Xtr, _, ytr, _) in datasets(args.sets).items():
        CURRENT["classes"] = len(np.unique(ytr))
        CURRENT["sdml_balance"] = iso.SDML_Supervised(random_state=0).fit(Xtr, ytr).balance_param_
        for name, mine, peers in ALGORITHMS:
            if name not in args.only or name not in FLOOR_PARTS:
                continue
            peer_t, mine_t, _, fitted = compare(peers[0][1], mine, Xtr, ytr, args.repeats, 600.0, float("inf"))
            peer_ms, mine_ms = 1e3 * statistics.median(peer_t), 1e3 * statistics.median(mine_t)
            draws, optimizer = FLOOR_PARTS[name]
            valid = median_ms(lambda: validate_data(mine(), Xtr, ytr, dtype=np.float64, y_numeric=False,
                                                    ensure_min_samples=1), args.repeats)
            seed = median_ms(lambda: check_random_state(0), args.repeats) if draws else 0.0
            its = int(fitted.n_iter_) if optimizer else 0
            lbfgs = lbfgs_ms(fitted.components_.size, its, args.repeats) if optimizer else 0.0
            floor, target = valid + seed + lbfgs, peer_ms / 10.0
            print(f"{set_name:8} {name:7} {peer_ms:8.3f} {target:7.3f} {mine_ms:7.3f} {peer_ms / mine_ms:6.1f} "
                  f"{valid:7.3f} {seed:6.3f} {lbfgs:7.3f} {its if optimizer else '-':>4} {floor:7.3f} "
                  f"{floor / target:12.2f}", flush=True)


if __name__ == "__main__":
    main()
