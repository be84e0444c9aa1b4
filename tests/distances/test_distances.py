import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from isometry.distances import DISTANCES, mahalanobis, pairwise, snr
from isometry.errors import InputError


@pytest.mark.parametrize("name,scipy_name", [("euclidean", "euclidean"), ("sqeuclidean", "sqeuclidean"),
                                             ("cosine", "cosine")])
def test_pairwise_matches_scipy(rng, name, scipy_name):
    a, b = rng.normal(size=(30, 5)), rng.normal(size=(20, 5))
    np.testing.assert_allclose(pairwise(a, b, name), cdist(a, b, scipy_name), atol=1e-10)


def test_pairwise_similarities_and_torch(rng):
    a = rng.normal(size=(7, 3))
    np.testing.assert_allclose(pairwise(a, distance="dot"), a @ a.T, atol=1e-12)
    out = pairwise(torch.from_numpy(a), distance="cosine_similarity")
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), 1 - cdist(a, a, "cosine"), atol=1e-12)


def test_pairwise_blocks_do_not_change_result(rng):
    a = rng.normal(size=(50, 4))
    np.testing.assert_allclose(pairwise(a, budget=1), pairwise(a), atol=0)


def test_snr_matches_definition(rng):
    a, b = torch.from_numpy(rng.normal(size=(6, 8))), torch.from_numpy(rng.normal(size=(5, 8)))
    direct = torch.var(b[None] - a[:, None], dim=2) / torch.var(a, dim=1)[:, None]
    torch.testing.assert_close(snr(a, b), direct)


def test_mahalanobis_identity_is_euclidean(rng):
    a, b = torch.from_numpy(rng.normal(size=(4, 3))), torch.from_numpy(rng.normal(size=(5, 3)))
    torch.testing.assert_close(mahalanobis(a, b, torch.eye(3, dtype=torch.float64)), torch.cdist(a, b))


def test_euclidean_gradient_finite_at_zero():
    a = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    DISTANCES["euclidean"].function(a, a).sum().backward()
    assert torch.isfinite(a.grad).all()


def test_unknown_distance_suggests():
    with pytest.raises(InputError, match="Did you mean 'cosine'"):
        pairwise(np.zeros((2, 2)), distance="cosin")


def test_width_mismatch():
    with pytest.raises(InputError, match="same width"):
        pairwise(np.zeros((2, 2)), np.zeros((2, 3)))
