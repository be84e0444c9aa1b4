"""DistributedLossWrapper: 2 CPU processes (gloo) == one process on the concatenated batch."""

from __future__ import annotations

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import isometry.losses as L
import isometry.miners as M

LOSSES = ["ContrastiveLoss", "TripletMarginLoss", "MultiSimilarityLoss", "NTXentLoss", "SupConLoss"]
SPLIT = 7  # rank 0 gets 7 rows, rank 1 gets 9: uneven batches are gathered too


def _setup():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 6, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (16,), generator=g)
    torch.manual_seed(1)
    model = torch.nn.Linear(6, 5).double()
    return x, y, model


def _cases():
    yield from ((name, False) for name in LOSSES)
    yield "TripletMarginLoss+BatchHardMiner", False


def _run_case(name, model, x, y, distributed):
    loss_name, _, miner_name = name.partition("+")
    loss = L.DistributedLossWrapper(getattr(L, loss_name)()) if distributed else getattr(L, loss_name)()
    emb = model(x)
    indices = None
    if miner_name:
        miner = getattr(M, miner_name)()
        indices = (L.DistributedMinerWrapper(miner) if distributed else miner)(emb, y)
    return loss(emb, y, indices)


def _worker(rank, port, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    x, y, model = _setup()
    rows = slice(0, SPLIT) if rank == 0 else slice(SPLIT, None)
    results = {}
    for name, _ in _cases():
        model.zero_grad()
        value = _run_case(name, model, x[rows], y[rows], True)
        value.backward()
        for p in model.parameters():  # what DistributedDataParallel does: the mean over ranks
            dist.all_reduce(p.grad)
            p.grad /= 2
        results[name] = (value.detach(), [p.grad.clone() for p in model.parameters()])
    torch.save(results, f"{out_dir}/rank{rank}.pt")
    dist.barrier()
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_equal_one_process_on_the_whole_batch(tmp_path):
    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    # fork starts a worker in ~0.05 s, a fresh spawned interpreter in ~7 s here.
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    mp.start_processes(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True, start_method=method)
    x, y, model = _setup()
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for name, _ in _cases():
        model.zero_grad()
        expected = _run_case(name, model, x, y, False)
        expected.backward()
        grads = [p.grad for p in model.parameters()]
        for result in ranks:
            value, rank_grads = result[name]
            torch.testing.assert_close(value, expected.detach(), atol=1e-10, rtol=1e-10)
            for got, want in zip(rank_grads, grads):
                torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-10)


def test_wrapper_outside_a_distributed_run_is_the_plain_loss():
    x, y, _ = _setup()
    torch.testing.assert_close(L.DistributedLossWrapper(L.ContrastiveLoss())(x, y), L.ContrastiveLoss()(x, y))
