"""``python -m spec bench-report``: rendering, and the torch-version comparison with a synthetic slowdown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spec.__main__ import main
from spec.bench_timing import ratio_stats
from spec.bench_workloads import all_cases

TIMED = [c for c in all_cases() if c.na_reason is None]


def write_run(path: Path, torch: str, scale: dict[str, float] | None = None, failed: tuple[str, ...] = ()) -> Path:
    """A pytest-benchmark JSON as tests/bench writes it, with made-up ratios (x ``scale[case]``)."""
    scale = scale or {}
    benchmarks, not_timed = [], []
    for i, case in enumerate(TIMED):
        if case.id in failed:
            not_timed.append({"case": case.id, "device": "cpu", "status": "failed", "reason": "differs from float64"})
            continue
        ratio = (2.0 + i % 7) * (case.param if case.workload == "derivative" else 1.5) * scale.get(case.id, 1.0)
        benchmarks.append({
            "name": f"test_bench[cpu-{case.id}]",
            "stats": {"min": 0.01, "mean": 0.011},
            "extra_info": {
                "case": case.id, "workload": case.workload, "param": case.param, "method": case.method,
                "device": "cpu", "torch": torch, "ratio": ratio, "ratio_cv": 0.02, "ratios": [ratio] * 5,
                "peak_bytes": 2**20 * (i + 1), "forward_peak_bytes": 2**18, "clock": "process CPU time",
                "memory_how": "peak RSS rise during one call, separate process",
            },
        })
    for case in all_cases():
        if case.na_reason:
            not_timed.append({"case": case.id, "device": "cpu", "status": "n/a", "reason": case.na_reason})
    doc = {
        "machine_info": {}, "datetime": "2026-01-01T00:00:00", "benchmarks": benchmarks,
        "autograd_spec": {"torch": torch, "python": "3.12.1", "threads": 1, "wall_s": 300.0, "jet": "1.0.0",
                          "sizes": {"points": 1024, "hidden": [64, 64, 64], "dtype": "float32",
                                    "reference": "nested autograd in float64"},
                          "not_timed": not_timed},
    }
    path.write_text(json.dumps(doc))
    return path


SLOWED = "derivative-k4-nested_grad"


def test_identical_runs_compare_clean(tmp_path, capsys):
    old = write_run(tmp_path / "old.json", "2.14.0")
    new = write_run(tmp_path / "new.json", "2.15.0")
    assert main(["bench-report", "--compare", str(old), str(new)]) == 0
    assert "OK: no ratio worse by more than 20%" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("factor", "threshold", "flagged"),
    [(1.25, None, True), (1.19, None, False), (1.25, "0.3", False), (1.25, "10%", True), (0.5, None, False)],
)
def test_synthetic_slowdown_against_threshold(tmp_path, capsys, factor, threshold, flagged):
    old = write_run(tmp_path / "old.json", "2.14.0")
    new = write_run(tmp_path / "new.json", "2.15.0", scale={SLOWED: factor})
    argv = ["bench-report", "--compare", str(old), str(new)] + (["--threshold", threshold] if threshold else [])
    code = main(argv)
    out = capsys.readouterr().out
    assert code == (1 if flagged else 0)
    slow_lines = [line for line in out.splitlines() if "SLOWER" in line]
    assert [SLOWED in line for line in slow_lines] == ([True] if flagged else [])


def test_a_method_failing_in_new_is_a_regression(tmp_path, capsys):
    old = write_run(tmp_path / "old.json", "2.14.0")
    new = write_run(tmp_path / "new.json", "2.15.0", failed=("laplacian-d8-jet",))
    out_md = tmp_path / "cmp.md"
    assert main(["bench-report", "--compare", str(old), str(new), "--out", str(out_md)]) == 1
    assert "**FAILED**" in capsys.readouterr().out
    assert "laplacian-d8-jet" in out_md.read_text()


@pytest.mark.parametrize("threshold", ["0", "-0.1", "fast", "nan"])
def test_bad_threshold_is_a_one_line_usage_error(tmp_path, capsys, threshold):
    old = write_run(tmp_path / "old.json", "2.14.0")
    assert main(["bench-report", "--compare", str(old), str(old), "--threshold", threshold]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m spec bench-report: error: --threshold") and "\n" not in err


@pytest.mark.parametrize("content", ["not json", "[]", '{"benchmarks": [{"name": "x", "extra_info": {}}]}'])
def test_bad_input_is_a_one_line_error(tmp_path, capsys, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["bench-report", str(bad), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m spec bench-report: error:") and "bad.json" in err and "\n" not in err


def test_nothing_to_do_and_missing_file(tmp_path, capsys):
    assert main(["bench-report"]) == 2
    assert main(["bench-report", str(tmp_path / "absent.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_render_markdown(tmp_path):
    run = write_run(tmp_path / "bench.json", "2.15.0")
    out = tmp_path / "report"
    assert main(["bench-report", str(run), "--out", str(out), "--no-plots"]) == 0
    text = (out / "report.md").read_text()
    assert "## torch 2.15.0 on cpu" in text
    assert "| `nested_grad` |" in text and "| `jet` |" in text
    assert "Growth factor per order" in text and "| d=2 | d=8 | d=32 |" in text
    assert "One PINN training step" in text and "n/a" in text
    assert "(2.0%)" in text  # the CV of every ratio


def test_render_two_versions_side_by_side(tmp_path):
    a = write_run(tmp_path / "a.json", "2.14.0")
    b = write_run(tmp_path / "b.json", "2.15.0", scale={SLOWED: 2.0})
    out = tmp_path / "report"
    assert main(["bench-report", str(a), str(b), "--out", str(out), "--no-plots"]) == 0
    text = (out / "report.md").read_text()
    assert "## torch 2.14.0 on cpu" in text and "## torch 2.15.0 on cpu" in text
    assert "## Across torch versions" in text


def test_render_plots(tmp_path):
    pytest.importorskip("matplotlib")
    run = write_run(tmp_path / "bench.json", "2.15.0")
    out = tmp_path / "report"
    assert main(["bench-report", str(run), "--out", str(out)]) == 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == ["laplacian-torch2.15.0-cpu.png", "orders-torch2.15.0-cpu.png"]
    assert all((out / p).stat().st_size < 200_000 for p in pngs)
    assert "![cost vs derivative order](orders-torch2.15.0-cpu.png)" in (out / "report.md").read_text()


def test_ratio_stats_take_the_minimum_of_each_round():
    # two rounds of three blocks; one block of each round was slowed by another process
    method = [2.0, 9.0, 2.2, 4.0, 4.1, 30.0]
    forward = [1.0, 1.0, 5.0, 2.0, 2.0, 2.0]
    stats = ratio_stats(method, forward, group=3)
    assert stats["ratios"] == [2.0, 2.0]
    assert stats["ratio"] == 2.0 and stats["ratio_cv"] == 0.0
    with pytest.raises(ValueError):
        ratio_stats(method, forward[:-1], group=3)
