"""Bench-only fixtures. The ``device`` fixture and ``--device`` come from the root conftest.

Run explicitly (never part of the claim gate): ``python -m pytest tests/bench --benchmark-json PATH``.
Everything runs on one thread; the JSON gets an ``autograd_spec`` section with the
environment, the sizes, every case that did not produce a time and why, and the method
registry's description of every workload, method and case (``tests.bench.methods.describe``):
the report (``python -m spec bench-report``) reads all it shows from the JSON and never
imports this package.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATE = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    import torch

    torch.set_num_threads(1)
    from tests.bench.timing import steady_heap

    config.stash[STATE] = {"started": time.time(), "cases": {}, "not_timed": {}, "heap": steady_heap()}
    json_path = config.getoption("benchmark_json", None)
    if json_path is not None:  # pytest-benchmark does not create the folder
        Path(str(json_path)).parent.mkdir(parents=True, exist_ok=True)


def _case_of(item: pytest.Item) -> tuple[str, str] | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None or "case_id" not in callspec.params:
        return None
    return callspec.params["case_id"], str(callspec.params.get("device", "cpu"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cases = config.stash[STATE]["cases"]
    for item in items:
        found = _case_of(item)
        if found:
            cases[item.nodeid] = found


@pytest.hookimpl
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    pass  # recorded in the hookwrapper below (needs the config)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    outcome = yield
    report = outcome.get_result()
    found = _case_of(item)
    if found is None or report.passed:
        return
    case_id, device = found
    if report.skipped:
        longrepr = report.longrepr
        reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        status = "n/a" if reason.startswith("n/a") else "not timed" if reason.startswith("not timed") else "skipped"
        item.config.stash[STATE]["not_timed"][f"{case_id}@{device}"] = {
            "case": case_id,
            "device": device,
            "status": status,
            "reason": reason,
        }
    elif report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else str(report.longrepr)[-500:]
        item.config.stash[STATE]["not_timed"][f"{case_id}@{device}"] = {
            "case": case_id,
            "device": device,
            "status": "failed",
            "reason": message.splitlines()[0] if message else "failed",
        }


def pytest_benchmark_update_json(config: pytest.Config, benchmarks, output_json: dict) -> None:
    import torch

    from tests.bench import methods as bench_methods
    from tests.bench import timing as bench_timing
    from tests.bench import workloads as bench_workloads

    state = config.stash[STATE]
    output_json["autograd_spec"] = {
        "schema": 2,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "wall_s": time.time() - state["started"],
        "sizes": {
            "points": bench_workloads.N_POINTS,
            "hidden": list(bench_workloads.HIDDEN),
            "orders": list(bench_workloads.ORDERS),
            "laplacian_dims": list(bench_workloads.LAPLACIAN_DIMS),
            "dtype": "float32",
            "reference": "nested autograd in float64",
        },
        "timing": {
            "block_target_s": bench_timing.BLOCK_TARGET_S,
            "round_target_s": bench_timing.ROUND_TARGET_S,
            "blocks_per_round": [bench_timing.MIN_GROUP, bench_timing.MAX_GROUP],
            "case_budget_s": bench_timing.CASE_BUDGET_S,
            "min_rounds": bench_timing.MIN_ROUNDS,
            "max_rounds": bench_timing.MAX_ROUNDS,
            "slow_rounds": bench_timing.SLOW_ROUNDS,
            "precision": bench_timing.PRECISION,
            "heap": state["heap"],
        },
        "jet": _jet_version(),
        **bench_methods.describe(),
        "not_timed": sorted(state["not_timed"].values(), key=lambda r: (r["case"], r["device"])),
    }


def _jet_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("jet-for-pytorch")
    except Exception:
        return None


@pytest.fixture(scope="session")
def bench_references():
    """Float64 references, computed once per (workload, parameter, device)."""
    return {}


@pytest.fixture(scope="session")
def memory_probes():
    from tests.bench.memory import MemoryProbe

    probes: dict[str, MemoryProbe] = {}
    yield lambda device: probes.setdefault(device, MemoryProbe(device, str(ROOT)))
    for probe in probes.values():
        probe.close()


def pytest_report_header(config: pytest.Config) -> list[str]:
    import torch

    return [f"autograd-spec bench: torch {torch.__version__}, Python {sys.version.split()[0]}, "
            f"{torch.get_num_threads()} thread(s)"]
