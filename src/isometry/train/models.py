"""Embedding models: an MLP head on features, a small CNN for images, an optional timm backbone.

Each model maps a batch to (n, embedding_dim) embeddings; ``normalize=True`` puts them
on the unit sphere (as in "FaceNet", Schroff et al., 2015), which makes euclidean and
cosine retrieval rank alike.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .._validate import Interval, check_param
from ..errors import InputError

__all__ = ["MLP", "SmallCNN", "TimmBackbone", "build_model"]

_POS = Interval(numbers.Integral, 1, None)


class MLP(nn.Module):
    """Linear -> BatchNorm -> ReLU (-> Dropout) blocks, then a linear embedding layer.

    Parameters
    ----------
    in_features : int
    hidden : sequence of int, default=(256,)
        Widths of the hidden blocks; ``()`` gives a linear embedding.
    embedding_dim : int, default=64
    dropout : float, default=0.0
    normalize : bool, default=False
        L2-normalize the output.

    Input (n, ...) is flattened to (n, in_features).
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (256,), embedding_dim: int = 64, *,
                 dropout: float = 0.0, normalize: bool = False) -> None:
        super().__init__()
        check_param(in_features, "in_features", "MLP", _POS)
        check_param(embedding_dim, "embedding_dim", "MLP", _POS)
        check_param(dropout, "dropout", "MLP", Interval(numbers.Real, 0, 1, "left"))
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            check_param(h, "hidden", "MLP", _POS)
            layers += [nn.Linear(width, h), nn.BatchNorm1d(h), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, embedding_dim))
        self.net = nn.Sequential(*layers)
        self.normalize = normalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.net(x.flatten(1))
        return F.normalize(z, dim=1) if self.normalize else z


class SmallCNN(nn.Module):
    """Three 3x3 conv blocks (BatchNorm, ReLU; max-pool after the second), average pool, linear.

    Parameters
    ----------
    image_shape : (C, H, W)
        Inputs may come flattened (n, C*H*W), as digits features do.
    embedding_dim : int, default=64
    width : int, default=16
        Channels of the first block (the others have twice as many).
    normalize : bool, default=False
    """

    def __init__(self, image_shape: Sequence[int], embedding_dim: int = 64, *, width: int = 16,
                 normalize: bool = False) -> None:
        super().__init__()
        if len(image_shape) != 3:
            raise InputError(f"SmallCNN needs image_shape (C, H, W); got {tuple(image_shape)}.")
        check_param(width, "width", "SmallCNN", _POS)
        check_param(embedding_dim, "embedding_dim", "SmallCNN", _POS)
        self.image_shape = tuple(int(s) for s in image_shape)
        c, w = self.image_shape[0], width
        self.features = nn.Sequential(
            nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
        )
        self.head = nn.Linear(8 * w, embedding_dim)
        self.normalize = normalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.head(self.features(x.reshape(-1, *self.image_shape)).flatten(1))
        return F.normalize(z, dim=1) if self.normalize else z


class TimmBackbone(nn.Module):
    """A ``timm`` model without its classifier, plus an optional linear embedding layer.

    Never downloads: pretrained weights are used only from a local file (``weights``),
    e.g. one saved earlier with ``torch.save(model.state_dict(), path)`` or found in a
    Hugging Face cache. Without ``weights`` the backbone starts from random values.

    Parameters
    ----------
    name : str
        A timm model name (``timm.list_models()``), e.g. ``"resnet18"``.
    embedding_dim : int, optional
        Add a linear layer to this width; default: the backbone's own feature width.
    weights : path, optional
        A local ``.pt``/``.pth``/``.safetensors`` state dict for the backbone.
    in_chans : int, default=3
    normalize : bool, default=False

    Raises
    ------
    InputError
        timm not installed, unknown model name, missing or mismatched weights file.
    """

    def __init__(self, name: str, embedding_dim: int | None = None, *, weights: str | os.PathLike | None = None,
                 in_chans: int = 3, normalize: bool = False) -> None:
        super().__init__()
        try:
            import timm
        except ImportError:
            raise InputError("model 'timm:...' needs the timm package: pip install timm.") from None
        try:
            self.backbone = timm.create_model(name, pretrained=False, num_classes=0, in_chans=in_chans)
        except RuntimeError as exc:  # timm: "Unknown model (...)"
            raise InputError(f"timm has no model {name!r}: {exc}") from None
        if weights is not None:
            self.backbone.load_state_dict(_read_state_dict(Path(weights)), strict=False)
        width = self.backbone.num_features
        self.head = nn.Linear(width, embedding_dim) if embedding_dim else nn.Identity()
        self.normalize = normalize

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.head(self.backbone(x))
        return F.normalize(z, dim=1) if self.normalize else z


def _read_state_dict(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"weights file not found: {path} (isometry never downloads weights).")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise InputError("reading .safetensors needs the safetensors package.") from None
        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def build_model(name: str, *, in_features: int, image_shape: Sequence[int] | None, embedding_dim: int = 64,
                hidden: Sequence[int] = (256,), width: int = 16, dropout: float = 0.0,
                normalize: bool = True, weights: str | None = None) -> nn.Module:
    """Make a model from its config name: ``"mlp"``, ``"cnn"`` or ``"timm:<model name>"``."""
    if name == "mlp":
        return MLP(in_features, hidden, embedding_dim, dropout=dropout, normalize=normalize)
    if name == "cnn":
        if image_shape is None:
            raise InputError("model 'cnn' needs image data (digits, an image folder, or features with image_shape);"
                             " use model 'mlp' for plain features.")
        return SmallCNN(image_shape, embedding_dim, width=width, normalize=normalize)
    if name.startswith("timm:"):
        chans = image_shape[0] if image_shape is not None else 3
        return TimmBackbone(name[5:], embedding_dim, weights=weights, in_chans=chans, normalize=normalize)
    raise InputError(f"The 'model' parameter must be one of 'mlp', 'cnn', 'timm:<name>'. Got {name!r} instead.")
