"""Parity with the prdc package 0.2 (to 1e-9), float32 and float64 inputs."""

import contextlib
import io

import numpy as np
import pytest

prdc_pkg = pytest.importorskip("prdc")

from isometry.measure import prdc  # noqa: E402


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 5])
def test_prdc_parity(dtype, k):
    r = np.random.default_rng(k)
    real = r.normal(size=(700, 16)).astype(dtype)
    fake = (r.normal(size=(500, 16)) * 1.1 + 0.1).astype(dtype)
    with contextlib.redirect_stdout(io.StringIO()):
        ref = prdc_pkg.compute_prdc(real, fake, k)
    got = prdc(real, fake, k=k)
    for key in ("precision", "recall", "density", "coverage"):
        assert got[key] == pytest.approx(float(ref[key]), rel=1e-9, abs=1e-12)
