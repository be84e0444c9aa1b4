import numbers

import numpy as np
import pytest
import torch

from isometry._validate import (Interval, Options, check_embeddings, check_labels, check_pairs, check_param,
                                encode_labels)
from isometry.errors import InputError


def test_embeddings_nan_rows_are_named():
    x = np.ones((10, 3))
    x[2, 1] = np.nan
    x[7, 0] = np.inf
    with pytest.raises(InputError, match=r"2 row\(s\): rows 2, 7"):
        check_embeddings(x)


def test_embeddings_torch_nan():
    x = torch.ones(4, 2)
    x[1, 0] = float("nan")
    with pytest.raises(InputError, match="rows 1"):
        check_embeddings(x)


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4)])
def test_embeddings_wrong_ndim(shape):
    with pytest.raises(InputError, match="must be 2-D"):
        check_embeddings(np.zeros(shape))


def test_embeddings_empty():
    with pytest.raises(InputError, match="is empty"):
        check_embeddings(np.zeros((0, 3)))


def test_embeddings_strings_rejected():
    with pytest.raises(InputError, match="real numbers"):
        check_embeddings(np.array([["a", "b"]]))


def test_embeddings_ints_become_float():
    assert check_embeddings(np.ones((2, 2), dtype=np.int32)).dtype == np.float64


def test_embeddings_memmap_stays_memmap(tmp_path):
    m = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=(100, 4))
    m[:] = 1.0
    m.flush()
    x = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert isinstance(check_embeddings(x), np.memmap)


def test_labels_kept_exact():
    y = check_labels(np.array([2**24, 2**24 + 1]), 2)
    assert y[0] != y[1] and y.dtype.kind == "i"


def test_labels_strings_and_length():
    assert list(check_labels(["a", "b"], 2)) == ["a", "b"]
    with pytest.raises(InputError, match="has 2 entries but there are 3"):
        check_labels([1, 2], 3)
    with pytest.raises(InputError, match="NaN"):
        check_labels([1.0, np.nan], 2)
    with pytest.raises(InputError, match="1-D"):
        check_labels(np.zeros((2, 2)), 2)


def test_encode_labels_shared_codes():
    (a, b), classes = encode_labels(np.array(["x", "y"]), np.array(["y", "z", "x"]))
    assert classes.tolist() == ["x", "y", "z"]
    assert a.tolist() == [0, 1] and b.tolist() == [1, 2, 0]


def test_check_param_message():
    with pytest.raises(InputError, match=r"The 'margin' parameter of TripletMarginLoss must be a number >= 0. Got -5"):
        check_param(-5, "margin", "TripletMarginLoss", Interval(numbers.Real, 0, None))
    assert check_param("a", "x", "F", Options(["a", "b"])) == "a"
    assert check_param(None, "x", "F", Interval(numbers.Real, 0, 1), None) is None
    with pytest.raises(InputError, match="an int >= 1"):
        check_param(1.5, "k", "F", Interval(numbers.Integral, 1, None))
    with pytest.raises(InputError):
        check_param(True, "k", "F", Interval(numbers.Integral, 0, None))


def test_check_pairs_shape():
    with pytest.raises(InputError, match=r"\(n_tuples, 2, n_features\)"):
        check_pairs(np.zeros((3, 3, 2)))
    assert check_pairs(np.zeros((3, 2, 2))).shape == (3, 2, 2)
