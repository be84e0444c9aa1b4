"""torchrun + DDP: two CPU ranks with the distributed loss wrapper train like one process on the global batch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from isometry.train import TrainConfig, train

# A linear model (no BatchNorm, whose statistics are per rank) makes the two runs comparable exactly.
CONFIG = dict(model="mlp", hidden=[], embedding_dim=8, augment=None, epochs=1, batch_size=32, m_per_class=4,
              progress=False, report=False, device="cpu", seed=1)


@pytest.mark.skipif(shutil.which("torchrun", path=os.path.dirname(sys.executable)) is None,
                    reason="torchrun not installed beside this Python")
def test_two_ranks_match_one_process(tmp_path):
    single = train(TrainConfig.from_dict(CONFIG), tmp_path / "single")
    (tmp_path / "c.json").write_text(json.dumps(CONFIG))
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    cmd = [torchrun, "--standalone", "--nproc_per_node=2", "-m", "isometry", "train", str(tmp_path / "c.json"),
           "--out", str(tmp_path / "ddp"), "--threads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = json.loads((tmp_path / "ddp" / "results.json").read_text())
    assert ddp["final"]["loss"] == pytest.approx(single["final"]["loss"], rel=1e-4)
    a, b = np.load(tmp_path / "single" / "embeddings.npy"), np.load(tmp_path / "ddp" / "embeddings.npy")
    assert np.allclose(a, b, atol=1e-4)
