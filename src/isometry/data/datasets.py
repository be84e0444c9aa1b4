"""Datasets for training: in-memory features (digits, numpy/npz/parquet/csv files) and image folders.

- :class:`FeatureDataset` holds an (n, d) float32 tensor and int64 label codes; rows
  may be images flattened in C x H x W order (``image_shape``), as scikit-learn's
  digits are (8 x 8, one channel).
- :func:`load_digits` is the built-in dataset of the demo (1,797 handwritten digits,
  "Optical Recognition of Handwritten Digits", Alpaydin & Kaynak, 1998).
- :func:`load_features` reads features and labels through :mod:`isometry.data.io`.
- :class:`ImageFolder` reads ``root/<class name>/<image file>`` with PIL.
- :func:`load_dataset` picks one of them from a config string.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .._validate import check_embeddings, check_labels, encode_labels
from ..errors import InputError
from .images import default_transform
from .io import load_embeddings, load_labels

__all__ = ["FeatureDataset", "ImageFolder", "load_digits", "load_features", "load_dataset", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class FeatureDataset(Dataset):
    """Rows of features with their labels, kept in memory as tensors.

    Parameters
    ----------
    features : array-like, shape (n, d)
        Finite numbers (checked; NaN/inf rows are named in the error).
    labels : array-like, shape (n,)
        Any hashable labels; stored as int64 codes into :attr:`classes`.
    image_shape : tuple of int, optional
        (C, H, W) when each row is a flattened image (enables the CNN and augmentation).

    Attributes
    ----------
    features : torch.Tensor, shape (n, d), float32
    targets : torch.Tensor, shape (n,), int64 codes
    classes : numpy.ndarray
        The original label of each code (never cast).
    """

    def __init__(self, features: Any, labels: Any, *, image_shape: tuple[int, ...] | None = None) -> None:
        x = check_embeddings(features, name="features", allow_torch=False, min_rows=2)
        y = check_labels(labels, x.shape[0], min_classes=2)
        (codes,), classes = encode_labels(y)
        if image_shape is not None and int(np.prod(image_shape)) != x.shape[1]:
            raise InputError(f"image_shape {tuple(image_shape)} holds {int(np.prod(image_shape))} values but "
                             f"features have {x.shape[1]} columns.")
        self.features = torch.from_numpy(np.array(x, dtype=np.float32))  # a copy: memmaps are read-only
        self.targets = torch.as_tensor(codes)
        self.classes = classes
        self.image_shape = None if image_shape is None else tuple(int(s) for s in image_shape)

    def __len__(self) -> int:
        return self.features.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.features[index], int(self.targets[index])

    @property
    def labels(self) -> np.ndarray:
        """Original labels of every row, shape (n,)."""
        return self.classes[self.targets.numpy()]

    def batch(self, indices: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and label codes of many rows at once (fast path for in-memory data)."""
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        return self.features[idx], self.targets[idx]


def load_digits(*, scale: bool = True) -> FeatureDataset:
    """scikit-learn's handwritten digits: 1,797 images of 8 x 8 pixels, 10 classes.

    Parameters
    ----------
    scale : bool, default=True
        Divide pixel values (0..16) by 16.

    Returns
    -------
    FeatureDataset
        Features of shape (1797, 64), ``image_shape`` (1, 8, 8), labels 0..9.
    """
    from sklearn.datasets import load_digits as _sk_digits

    X, y = _sk_digits(return_X_y=True)
    X = X.astype(np.float32) / (16.0 if scale else 1.0)
    return FeatureDataset(X, y, image_shape=(1, 8, 8))


def load_features(features: str | os.PathLike, labels: str | os.PathLike | None = None, *,
                  key: str | None = None, labels_key: str | None = None,
                  image_shape: tuple[int, ...] | None = None) -> FeatureDataset:
    """Features and labels from files (.npy, .npz, .csv, .parquet; see :mod:`isometry.data.io`).

    Parameters
    ----------
    features : path
        The (n, d) feature array.
    labels : path, optional
        The labels. Without it, ``features`` must be an ``.npz`` holding a ``labels``
        array, or a ``.parquet`` file with a ``label``/``labels`` column beside the features.
    key, labels_key : str, optional
        Array (npz) or column (parquet) names.
    """
    path = Path(features)
    if labels is None and path.suffix.lower() == ".parquet":
        return _parquet_with_labels(path, labels_key, image_shape)
    X = np.asarray(load_embeddings(path, key=key))
    y = load_labels(labels if labels is not None else path, key=labels_key)
    return FeatureDataset(X, y, image_shape=image_shape)


def _parquet_with_labels(path: Path, labels_key: str | None, image_shape) -> FeatureDataset:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InputError("reading .parquet needs pyarrow: pip install 'isometry[parquet]'.") from None
    if not path.exists():
        raise InputError(f"features file not found: {path}")
    table = pq.read_table(path)
    names = table.column_names
    label_col = labels_key or next((c for c in ("label", "labels") if c in names), None)
    if label_col is None or label_col not in names:
        raise InputError(f"{path} has no label column ('label' or 'labels'); give --labels or labels_key. "
                         f"Columns: {', '.join(names)}.")
    y = table.column(label_col).to_numpy(zero_copy_only=False)
    rest = [c for c in names if c != label_col]
    cols = [table.column(c) for c in rest]
    if len(cols) == 1 and hasattr(cols[0].type, "value_type"):
        X = np.stack(cols[0].to_numpy(zero_copy_only=False))
    else:
        X = np.column_stack([c.to_numpy(zero_copy_only=False) for c in cols])
    return FeatureDataset(X, y, image_shape=image_shape)


class ImageFolder(Dataset):
    """Images in ``root/<class name>/<file>``, one sub-folder per class, read with PIL.

    Parameters
    ----------
    root : path
        Folder with one sub-folder per class (sorted names give the codes).
    transform : callable, optional
        PIL image -> tensor (C, H, W). Default: :func:`~isometry.data.images.default_transform`
        of ``image_size`` (RGB).
    image_size : int, default=32
        Side of the default transform's output.

    Raises
    ------
    InputError
        Missing folder, no class sub-folders, a class without images, fewer than 2 classes.
    """

    def __init__(self, root: str | os.PathLike, transform: Callable[[Any], torch.Tensor] | None = None,
                 *, image_size: int = 32, grayscale: bool = False) -> None:
        root = Path(root)
        if not root.is_dir():
            raise InputError(f"image folder not found: {root}")
        class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if len(class_dirs) < 2:
            raise InputError(f"{root} needs at least 2 class sub-folders (root/<class>/<image>); "
                             f"found {len(class_dirs)}.")
        files, codes = [], []
        for code, d in enumerate(class_dirs):
            found = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InputError(f"class folder {d} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
            files += found
            codes += [code] * len(found)
        self.root, self.files = root, files
        self.classes = np.array([d.name for d in class_dirs])
        self.targets = torch.as_tensor(codes, dtype=torch.long)
        self.transform = transform or default_transform(image_size, grayscale=grayscale)
        first = self[0][0]
        self.image_shape = tuple(first.shape)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        from PIL import Image, UnidentifiedImageError

        path = self.files[index]
        try:
            with Image.open(path) as im:
                im.load()
                x = self.transform(im)
        except (UnidentifiedImageError, OSError) as exc:
            raise InputError(f"could not read image {path}: {exc}") from None
        return x, int(self.targets[index])

    @property
    def labels(self) -> np.ndarray:
        return self.classes[self.targets.numpy()]

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Load and stack many images (the trainer uses a DataLoader with workers instead when asked)."""
        items = [self[int(i)] for i in indices]
        return torch.stack([x for x, _ in items]), torch.as_tensor([c for _, c in items], dtype=torch.long)


def load_dataset(data: str, *, labels: str | None = None, image_size: int = 32,
                 grayscale: bool = False, image_shape: tuple[int, ...] | None = None) -> Dataset:
    """``"digits"``, a feature file (with ``labels``), or an image folder."""
    if data == "digits":
        return load_digits()
    path = Path(data)
    if path.is_dir():
        return ImageFolder(path, image_size=image_size, grayscale=grayscale)
    if not path.exists():
        raise InputError(f"data {data!r} is neither 'digits', an existing feature file, nor an image folder.")
    return load_features(path, labels, image_shape=image_shape)
