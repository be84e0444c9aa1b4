"""Datasets: digits, feature files with labels, image folders, batch augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isometry.data.datasets import FeatureDataset, ImageFolder, load_dataset, load_digits, load_features
from isometry.data.images import CenterCrop, Normalize, Resize, ToTensor, random_affine, random_hflip
from isometry.errors import InputError


def test_digits_shape_scale_and_image_shape():
    ds = load_digits()
    assert ds.features.shape == (1797, 64) and ds.features.dtype == torch.float32
    assert ds.image_shape == (1, 8, 8)
    assert float(ds.features.max()) == 1.0 and float(ds.features.min()) == 0.0
    assert ds.classes.tolist() == list(range(10))
    x, y = ds.batch([0, 5])
    assert x.shape == (2, 64) and y.tolist() == [0, 5]


def test_feature_dataset_keeps_string_and_large_int_labels():
    ds = FeatureDataset(np.eye(4), ["b", "a", "b", "a"])
    assert ds.classes.tolist() == ["a", "b"] and ds.labels.tolist() == ["b", "a", "b", "a"]
    big = FeatureDataset(np.eye(4), [2**24, 2**24 + 1, 2**24, 2**24 + 1])
    assert len(big.classes) == 2 and big.labels[1] == 2**24 + 1


@pytest.mark.parametrize("features, labels, match", [
    (np.array([[0.0, 1.0], [np.nan, 1.0], [1.0, 2.0]]), [0, 1, 0], "NaN or inf in 1 row"),
    (np.ones((3, 2)), [0, 1], "3 embeddings"),
    (np.ones((3, 2)), [0, 0, 0], "at least 2"),
    (np.zeros((0, 2)), [], "empty"),
    (np.array([["a", "b"], ["c", "d"]]), [0, 1], "real numbers"),
])
def test_feature_dataset_bad_input(features, labels, match):
    with pytest.raises(InputError, match=match):
        FeatureDataset(features, labels)


def test_feature_dataset_image_shape_must_match():
    with pytest.raises(InputError, match="image_shape"):
        FeatureDataset(np.ones((4, 10)), [0, 1, 0, 1], image_shape=(1, 3, 3))


def test_load_features_npy_csv_npz(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "y.csv").write_text("label\n3\n7\n3\n7\n3\n7\n")
    ds = load_features(tmp_path / "x.npy", tmp_path / "y.csv")
    assert ds.features.shape == (6, 2) and ds.labels.tolist()[:2] == [3, 7]
    np.save(tmp_path / "s.npy", np.array(["cat", "dog"] * 3))
    assert load_features(tmp_path / "x.npy", tmp_path / "s.npy").labels.tolist()[:2] == ["cat", "dog"]
    np.savez(tmp_path / "d.npz", embeddings=X, labels=np.array([0, 1, 0, 1, 0, 1]))
    ds = load_features(tmp_path / "d.npz")
    assert ds.targets.tolist() == [0, 1, 0, 1, 0, 1]


def test_load_features_parquet_label_column(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"f0": [0.0, 1.0, 2.0, 3.0], "f1": [1.0, 1.0, 0.0, 0.0], "label": ["x", "y", "x", "y"]}),
                   tmp_path / "t.parquet")
    ds = load_features(tmp_path / "t.parquet")
    assert ds.features.shape == (4, 2) and ds.labels.tolist() == ["x", "y", "x", "y"]
    pq.write_table(pa.table({"f0": [0.0, 1.0]}), tmp_path / "nolabel.parquet")
    with pytest.raises(InputError, match="no label column"):
        load_features(tmp_path / "nolabel.parquet")


def test_load_features_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_features(tmp_path / "nope.npy", tmp_path / "y.npy")
    with pytest.raises(InputError, match="neither"):
        load_dataset(str(tmp_path / "nope.npy"))


def _image_folder(root, classes=("cat", "dog"), per_class=3, size=(10, 12)):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            arr = rng.integers(0, 255, size=(*size, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / c / f"{i}.png")
    return root


def test_image_folder_reads_classes_and_resizes(tmp_path):
    ds = ImageFolder(_image_folder(tmp_path / "imgs"), image_size=16)
    assert len(ds) == 6 and ds.classes.tolist() == ["cat", "dog"]
    x, y = ds[4]
    assert x.shape == (3, 16, 16) and y == 1 and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    xb, yb = ds.batch([0, 3])
    assert xb.shape == (2, 3, 16, 16) and yb.tolist() == [0, 1]
    gray = ImageFolder(tmp_path / "imgs", image_size=8, grayscale=True)
    assert gray.image_shape == (1, 8, 8)
    assert isinstance(load_dataset(str(tmp_path / "imgs"), image_size=8), ImageFolder)


def test_image_folder_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        ImageFolder(tmp_path / "missing")
    _image_folder(tmp_path / "one", classes=("only",))
    with pytest.raises(InputError, match="at least 2 class"):
        ImageFolder(tmp_path / "one")
    root = _image_folder(tmp_path / "two")
    (root / "empty").mkdir()
    with pytest.raises(InputError, match="holds no images"):
        ImageFolder(root)
    root = _image_folder(tmp_path / "bad")
    (root / "cat" / "9.png").write_bytes(b"not an image")
    ds = ImageFolder(root)  # the first file is fine
    with pytest.raises(InputError, match="could not read image"):
        ds[3]


def test_pil_transforms():
    from PIL import Image

    im = Image.fromarray(np.full((6, 10, 3), 255, dtype=np.uint8))
    t = ToTensor()(CenterCrop(4)(Resize(8)(im)))
    assert t.shape == (3, 4, 4) and torch.allclose(t, torch.ones_like(t))
    n = Normalize([0.5] * 3, [0.5] * 3)(t)
    assert torch.allclose(n, torch.ones_like(n))
    with pytest.raises(InputError, match="std"):
        Normalize([0.0], [0.0])


def test_random_affine_is_seeded_and_keeps_shape():
    x = torch.rand(5, 1, 8, 8)
    torch.manual_seed(3)
    a = random_affine(x)
    torch.manual_seed(3)
    b = random_affine(x)
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)
    assert torch.allclose(random_affine(x, shift=0.0, rotation=0.0, scale=0.0), x, atol=1e-5)
    flipped = random_hflip(x, p=1.0)
    assert torch.equal(flipped, x.flip(-1))
