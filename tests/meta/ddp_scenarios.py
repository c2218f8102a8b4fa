"""Scenarios for tests/meta/test_distributed.py: the harness's behaviour, not torch's (spec.distributed)."""

import os
import time

import torch
import torch.distributed as dist


def all_reduce(rank, world):
    t = torch.tensor([float(rank + 1)])
    dist.all_reduce(t)
    return {"sum": t.item(), "world": world, "rank": rank}


def raises(rank, world):
    raise ValueError(f"scenario failed on rank {rank}")


def after_a_failure(rank, world):
    """Runs after ``raises``: one scenario's exception does not end the job."""
    t = torch.tensor([1.0])
    dist.all_reduce(t)
    return t.item()


SCENARIOS = {"all_reduce": all_reduce, "raises": raises, "after_a_failure": after_a_failure}


def hang(rank, world):
    if rank == 1:
        time.sleep(600)
    return rank


def exit_rank(rank, world):
    if rank == 1:
        os._exit(7)
    return rank
