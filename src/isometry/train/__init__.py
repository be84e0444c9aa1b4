"""Train embedding models: config, models, the trainer, checkpoints and DDP helpers.

``isometry.train.train(TrainConfig(...), "runs/x")`` trains, evaluates every epoch with
:func:`isometry.evaluate.retrieval`, keeps the best checkpoint and writes a report.
"""

from .config import TrainConfig, load_config
from .models import MLP, SmallCNN, TimmBackbone, build_model
from .recipes import RECIPES, recipe
from .trainer import Trainer, train

__all__ = ["TrainConfig", "load_config", "MLP", "SmallCNN", "TimmBackbone", "build_model", "Trainer", "train",
           "RECIPES", "recipe"]
