"""Models, the training config and the objective lookups."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from isometry.errors import InputError
from isometry.train import MLP, SmallCNN, TrainConfig, build_model, load_config, recipe
from isometry.train.objective import build_objective, lookup, make_sampler_order


def test_mlp_and_cnn_shapes_and_normalization():
    torch.manual_seed(0)
    x = torch.rand(6, 64)
    m = MLP(64, (32,), 8, normalize=True).eval()
    assert m(x).shape == (6, 8) and torch.allclose(m(x).norm(dim=1), torch.ones(6), atol=1e-5)
    c = SmallCNN((1, 8, 8), 16, width=4).eval()
    assert c(x).shape == (6, 16) and c(x.view(6, 1, 8, 8)).shape == (6, 16)
    assert build_model("mlp", in_features=64, image_shape=None, hidden=[], embedding_dim=3)(x).shape == (6, 3)


def test_build_model_errors():
    with pytest.raises(InputError, match="'model' parameter"):
        build_model("resnet", in_features=4, image_shape=None)
    with pytest.raises(InputError, match="needs image data"):
        build_model("cnn", in_features=4, image_shape=None)
    with pytest.raises(InputError, match="embedding_dim"):
        MLP(4, (), 0)


def test_timm_backbone_never_downloads(tmp_path):
    try:
        import timm  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match="pip install timm"):
            build_model("timm:resnet18", in_features=3, image_shape=(3, 32, 32))
        return
    model = build_model("timm:resnet18", in_features=3, image_shape=(3, 32, 32), embedding_dim=8)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 8)
    path = tmp_path / "w.pt"
    torch.save(model.backbone.state_dict(), path)
    again = build_model("timm:resnet18", in_features=3, image_shape=(3, 32, 32), embedding_dim=8, weights=str(path))
    assert torch.equal(again.backbone.conv1.weight, model.backbone.conv1.weight)
    with pytest.raises(InputError, match="never downloads"):
        build_model("timm:resnet18", in_features=3, image_shape=(3, 32, 32), weights=str(tmp_path / "none.pt"))


def test_config_unknown_key_and_bad_values(tmp_path):
    with pytest.raises(InputError, match="Did you mean 'epochs'"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(InputError, match="The 'lr' parameter of TrainConfig must be a number > 0. Got -1"):
        TrainConfig.from_dict({"lr": -1})
    with pytest.raises(InputError, match="views=2 needs augment"):
        TrainConfig.from_dict({"views": 2, "augment": None})
    with pytest.raises(InputError, match="needs views=2"):
        TrainConfig.from_dict({"self_supervised_loss": "NTXentLoss"})
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(InputError, match="not valid JSON"):
        load_config(tmp_path / "bad.json")
    (tmp_path / "ok.json").write_text(json.dumps({"epochs": 2, "_run": {"seed": 0}}))
    assert load_config(tmp_path / "ok.json").epochs == 2
    with pytest.raises(InputError, match="unknown recipe"):
        recipe("mnist")


def test_objective_lookup_and_filled_parameters():
    with pytest.raises(InputError, match="Did you mean 'TripletMarginLoss'"):
        lookup(__import__("isometry.losses", fromlist=["x"]), "TripletMarginLos", "loss")
    cfg = TrainConfig.from_dict({"loss": "ProxyAnchorLoss", "miner": None})
    obj = build_objective(cfg, num_classes=5, embedding_size=8)
    assert len(obj.parameters()) == 1 and obj.parameters()[0].shape == (5, 8)
    emb = torch.nn.functional.normalize(torch.randn(10, 8), dim=1)
    assert torch.isfinite(obj(emb, torch.arange(10) % 5))
    with pytest.raises(InputError, match="has no parameter 'margn'"):
        build_objective(TrainConfig.from_dict({"loss_params": {"margn": 1}}), num_classes=2, embedding_size=4)


def test_sampler_order_m_per_class_and_seeded():
    cfg = TrainConfig.from_dict({"batch_size": 32, "m_per_class": 8})
    targets = np.repeat(np.arange(6), 20)
    batches = make_sampler_order(cfg, targets, epoch=1)
    assert len(batches) == len(targets) // 32
    for b in batches:
        counts = np.bincount(targets[b], minlength=6)
        assert set(counts[counts > 0]) == {8} and (counts > 0).sum() == 4
    assert batches == make_sampler_order(cfg, targets, epoch=1)
    assert batches != make_sampler_order(cfg, targets, epoch=2)
    with pytest.raises(InputError, match="MPerClassSampler"):
        make_sampler_order(TrainConfig.from_dict({"batch_size": 128, "m_per_class": 8}), targets, 0)
