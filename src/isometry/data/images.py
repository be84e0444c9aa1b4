"""Small image transforms without torchvision: PIL in, float tensors out, and batch augmentation.

PIL transforms (``Resize``, ``CenterCrop``, ``Grayscale``, ``ToTensor``, ``Normalize``,
``Compose``) prepare one image of an image folder. :func:`random_affine` augments a whole
batch of image tensors at once (random shift, rotation and scale through
``affine_grid``/``grid_sample``), drawing from torch's global generator so that a seeded
trainer gets the same augmentations on every run.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .._validate import Interval, check_param
from ..errors import InputError

__all__ = ["Compose", "Resize", "CenterCrop", "Grayscale", "ToTensor", "Normalize", "random_affine",
           "random_hflip", "default_transform"]


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x


class Resize:
    """Resize a PIL image to ``size`` x ``size`` (bilinear)."""

    def __init__(self, size: int) -> None:
        self.size = int(check_param(size, "size", "Resize", Interval(numbers.Integral, 1, None)))

    def __call__(self, image: Any) -> Any:
        from PIL import Image

        return image.resize((self.size, self.size), Image.BILINEAR)


class CenterCrop:
    """Crop the central ``size`` x ``size`` square of a PIL image (padded with black when smaller)."""

    def __init__(self, size: int) -> None:
        self.size = int(check_param(size, "size", "CenterCrop", Interval(numbers.Integral, 1, None)))

    def __call__(self, image: Any) -> Any:
        w, h = image.size
        left, top = (w - self.size) // 2, (h - self.size) // 2
        return image.crop((left, top, left + self.size, top + self.size))


class Grayscale:
    """Convert a PIL image to one channel ("L")."""

    def __call__(self, image: Any) -> Any:
        return image.convert("L")


class ToTensor:
    """PIL image -> float32 tensor of shape (C, H, W) with values in [0, 1]."""

    def __call__(self, image: Any) -> torch.Tensor:
        arr = np.asarray(image, dtype=np.float32) / 255.0
        if arr.ndim == 2:
            arr = arr[:, :, None]
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


class Normalize:
    """Subtract ``mean`` and divide by ``std`` per channel of a (C, H, W) tensor."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = torch.tensor(list(mean), dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(list(std), dtype=torch.float32).view(-1, 1, 1)
        if (self.std <= 0).any():
            raise InputError(f"Normalize: every std must be > 0; got {list(std)}.")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def default_transform(size: int = 32, *, grayscale: bool = False) -> Compose:
    """Resize to ``size`` x ``size``, optional grayscale, to a [0, 1] tensor."""
    steps: list[Callable[[Any], Any]] = [Resize(size)]
    if grayscale:
        steps.append(Grayscale())
    else:
        steps.append(lambda im: im.convert("RGB"))
    steps.append(ToTensor())
    return Compose(steps)


def random_affine(images: torch.Tensor, *, shift: float = 0.125, rotation: float = 0.2,
                  scale: float = 0.1) -> torch.Tensor:
    """Randomly shift, rotate and scale each image of a batch (bilinear, zero padding).

    Parameters
    ----------
    images : torch.Tensor, shape (n, C, H, W)
    shift : float, default=0.125
        Largest shift as a share of the image side (0.125 = one pixel of an 8 x 8 image).
    rotation : float, default=0.2
        Largest rotation in radians, either way.
    scale : float, default=0.1
        Largest relative zoom, in or out.

    Returns
    -------
    torch.Tensor, shape (n, C, H, W)
        Drawn from torch's global generator (seed it for reproducible batches).
    """
    n = images.shape[0]
    angle = (torch.rand(n) * 2 - 1) * rotation
    zoom = 1 + (torch.rand(n) * 2 - 1) * scale
    move = (torch.rand(n, 2) * 2 - 1) * (2 * shift)  # affine_grid spans [-1, 1]: a side is 2 units
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0], theta[:, 0, 1] = zoom * torch.cos(angle), -zoom * torch.sin(angle)
    theta[:, 1, 0], theta[:, 1, 1] = zoom * torch.sin(angle), zoom * torch.cos(angle)
    theta[:, :, 2] = move
    theta = theta.to(device=images.device, dtype=images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, align_corners=False, padding_mode="zeros")


def random_hflip(images: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    """Mirror each image of a batch left-right with probability ``p``."""
    flip = torch.rand(images.shape[0], device=images.device) < p
    out = images.clone()
    out[flip] = out[flip].flip(-1)
    return out
