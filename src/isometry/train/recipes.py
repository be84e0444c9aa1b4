"""Named training recipes (the demo's defaults), usable as ``isometry train --recipe NAME``.

``digits-seen``: held-out samples of the training classes. Small CNN, 1-pixel random
affine augmentation, MultiSimilarityLoss with its miner ("Multi-Similarity Loss with
General Pair Weighting for Deep Metric Learning", Wang et al., 2019), M-per-class batches.

``digits-unseen``: train on digits 0-4, retrieve among 5-9. Supervised losses alone
collapse the space onto what separates the training classes and land below raw pixels.
What beats raw pixels here: two augmented views of each image, SupConLoss over labels
("Supervised Contrastive Learning", Khosla et al., 2020) plus NTXentLoss over instances
("A Simple Framework for Contrastive Learning of Visual Representations", Chen et al.,
2020), a wider (128-D) embedding and the convolutional model: the instance term keeps
features that tell any two images apart, and the augmentation teaches invariance to
small shifts, rotations and zooms, which carry over to classes never seen.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from .config import TrainConfig

__all__ = ["RECIPES", "recipe"]

RECIPES: dict[str, dict[str, Any]] = {
    "digits-seen": dict(
        data="digits", split="stratified", test_size=0.5, model="cnn", width=16, embedding_dim=64,
        augment="affine", views=1, loss="MultiSimilarityLoss", miner="MultiSimilarityMiner",
        sampler="MPerClassSampler", m_per_class=16, batch_size=128, epochs=20, lr=1e-3, weight_decay=1e-4,
    ),
    "digits-unseen": dict(
        data="digits", split="unseen", train_classes=[0, 1, 2, 3, 4], model="cnn", width=32, embedding_dim=128,
        augment="affine", views=2, loss="SupConLoss", loss_params={"temperature": 0.1}, miner=None,
        self_supervised_loss="NTXentLoss", self_supervised_params={"temperature": 0.1},
        self_supervised_weight=1.0, sampler=None, batch_size=128, epochs=40, lr=1e-3, weight_decay=1e-4,
    ),
}


def recipe(name: str, **overrides: Any) -> TrainConfig:
    """The config of a named recipe, with ``overrides`` applied."""
    if name not in RECIPES:
        raise InputError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}.")
    return TrainConfig.from_dict({**RECIPES[name], **overrides})
