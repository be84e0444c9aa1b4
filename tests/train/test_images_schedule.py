"""Training on an image folder (PIL, DataLoader workers) and the LR schedule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isometry.train import TrainConfig, train
from isometry.train.runtime import make_scheduler


def _folder(root):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, level in (("dark", 40), ("light", 210)):
        (root / c).mkdir(parents=True)
        for i in range(8):
            arr = np.clip(level + rng.normal(0, 20, size=(12, 12)), 0, 255).astype(np.uint8)
            Image.fromarray(arr, mode="L").convert("RGB").save(root / c / f"{i}.png")
    return root


def test_train_on_an_image_folder_with_workers(tmp_path):
    cfg = TrainConfig.from_dict(dict(data=str(_folder(tmp_path / "imgs")), image_size=8, model="cnn", width=4,
                                     embedding_dim=4, augment="affine_flip", epochs=2, batch_size=8, m_per_class=4,
                                     num_workers=1, progress=False, report=False, device="cpu"))
    result = train(cfg, tmp_path / "run")
    emb = np.load(tmp_path / "run" / "embeddings.npy")
    assert emb.shape == (8, 4) and np.isfinite(emb).all()
    assert sorted(set(np.load(tmp_path / "run" / "labels.npy").tolist())) == ["dark", "light"]
    assert result["final"]["precision_at_1"] == 1.0  # the two brightness classes are trivially apart


@pytest.mark.parametrize("schedule, warmup, expected", [
    ("cosine", 0, [1.0, 0.904508, 0.654508, 0.345492, 0.095492]),
    ("constant", 2, [1 / 3, 2 / 3, 1.0, 1.0, 1.0]),
    ("step", 0, [1.0, 0.1, 0.01, 0.001, 0.0001]),
])
def test_lr_schedule_factors(schedule, warmup, expected):
    cfg = TrainConfig.from_dict(dict(epochs=5, schedule=schedule, warmup_epochs=warmup, lr=1.0))
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(opt, cfg)
    seen = []
    for _ in range(5):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx(expected, abs=1e-6)
