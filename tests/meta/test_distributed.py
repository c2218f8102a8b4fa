"""spec.distributed: the two-rank job reports every scenario, bounds every wait and leaves no process behind.

Each way the harness runs a job is checked: ranks started as new interpreters (``launch``), ranks forked from
the calling process (``fork_job``, the proof's way) and the job as an isolated snippet (forked from the zygote,
which forks its ranks: the claim run's way on Linux; a new interpreter that starts its ranks elsewhere).
"""

from __future__ import annotations

import os
import time

import pytest

from spec import distributed, isolated

MODULE = "tests.meta.ddp_scenarios"


def _children() -> set[int]:
    pids = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                pids.update(int(p) for p in f.read().split())
        except OSError:
            pass
    return pids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def no_leftovers():
    """The job's processes are all gone when it returns (checked where /proc lists a process's children)."""
    before = _children() if os.path.exists("/proc/self/task") else set()
    yield
    if not os.path.exists("/proc/self/task"):
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = {p for p in _children() - before if _alive(p)}
        if not left:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes left behind by the job: {sorted(left)}")


def _by_isolated(module, timeout, monkeypatch, spawn):
    monkeypatch.setenv("SPEC_ISOLATED_SPAWN", "1" if spawn else "0")
    isolated.discard_all()
    try:
        return isolated.run(distributed.job_code(module, timeout), timeout=timeout + 15)
    finally:
        isolated.discard_all()


WAYS = {
    "launch": lambda module, timeout, mp: distributed.launch(module, timeout=timeout),
    "fork_job": lambda module, timeout, mp: distributed.fork_job(module, timeout=timeout),
    "isolated-zygote": lambda module, timeout, mp: _by_isolated(module, timeout, mp, spawn=False),
    "isolated-spawn": lambda module, timeout, mp: _by_isolated(module, timeout, mp, spawn=True),
}


@pytest.fixture(params=sorted(WAYS))
def job(request, monkeypatch):
    if request.param != "launch" and not hasattr(os, "fork"):
        pytest.skip("needs os.fork")
    return lambda module, timeout=distributed.JOB_TIMEOUT: WAYS[request.param](module, timeout, monkeypatch)


def test_every_scenario_reports_on_both_ranks(job, no_leftovers):
    out = job(MODULE)
    assert "error" not in out, out
    ranks = out["ranks"]
    assert distributed.scenario(ranks, "all_reduce") == [{"sum": 3.0, "world": 2, "rank": 0},
                                                         {"sum": 3.0, "world": 2, "rank": 1}]
    assert distributed.scenario(ranks, "raises") == [{"error": "ValueError: scenario failed on rank 0"},
                                                     {"error": "ValueError: scenario failed on rank 1"}]
    assert distributed.scenario(ranks, "after_a_failure") == [2.0, 2.0]


def test_a_rank_that_hangs_ends_the_job_within_its_timeout(job, no_leftovers):
    started = time.monotonic()
    out = job("tests.meta.ddp_hangs", timeout=6)
    took = time.monotonic() - started
    assert "error" in out, out
    assert "did not finish within 6 s (killed)" in out["error"] or "exited" in out["error"], out
    assert took < 40, f"the job took {took:.0f} s"


def test_a_rank_that_exits_without_a_report_is_one_line(job, no_leftovers):
    out = job("tests.meta.ddp_exits", timeout=30)
    assert "error" in out, out
    assert out["error"].startswith("rank 1 exited 7"), out
    assert "\n" not in out["error"]


def test_results_raises_the_job_error_for_every_claim(monkeypatch):
    monkeypatch.setitem(distributed._RESULTS, "some.module", {"error": "rank 1 exited 7: boom"})
    with pytest.raises(distributed.DistributedJobError, match=r"^two-rank gloo job of some\.module: rank 1 exited 7"):
        distributed.results("some.module")
