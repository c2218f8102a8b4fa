"""The command line and pytest options: listings, usage errors, results, matrix and diff."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.meta.conftest import make_results, make_row

ROOT = Path(__file__).resolve().parents[2]


def spec(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "spec", *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True)


def pytest_run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PYTEST_XDIST_WORKER", None)
    cmd = [sys.executable, "-m", "pytest", "spec/suite", "-p", "no:randomly", "-p", "no:cacheprovider", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)


class TestList:
    def test_json_lists_every_part1_claim(self):
        proc = spec("list", "--format", "json")
        assert proc.returncode == 0, proc.stderr
        claims = json.loads(proc.stdout)
        part1 = [c for c in claims if c["part"] == "Part 1"]
        assert len(part1) == 23  # the article's Part 1, and RET-004 (retains_grad) from the sources map
        assert all({"id", "statement", "section"} <= set(c) for c in claims)

    def test_text_is_one_line_per_claim_id_first(self):
        proc = spec("list")
        lines = proc.stdout.splitlines()
        assert len(lines) == len(json.loads(spec("list", "--format", "json").stdout))
        assert lines[0].split()[0] == "LEAF-001"


class TestUsageErrors:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--device", "cuda"], "--device cuda was asked for, but cuda absent"),
            (["--device", "tpu"], "unknown device 'tpu'"),
            (["--dtype", "float8"], "unknown dtype 'float8'"),
            (["--claim", "LEAF-01"], "unknown claim ID 'LEAF-01'; nearest: LEAF-001"),
        ],
    )
    def test_is_one_line_and_exit_4(self, args, message):
        import torch

        if args[:2] == ["--device", "cuda"] and torch.cuda.is_available():
            pytest.skip("cuda is present here")
        proc = pytest_run(*args, "-q")
        assert proc.returncode == 4, proc.stdout + proc.stderr
        err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert len(err) == 1 and err[0].startswith("ERROR: ") and message in err[0], proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The run's only non-empty stderr line (asserting there is exactly one and no traceback)."""
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(err) == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return err[0]


class TestResultsFile:
    def test_one_claim_run_writes_results(self, tmp_path):
        from spec.results import load

        path = tmp_path / "r.json"
        proc = pytest_run("--claim", "RET-001", "--results", str(path), "-q")
        assert proc.returncode == 0, proc.stdout
        doc = json.loads(path.read_text())
        assert set(doc["claims"]) == {"RET-001"}
        assert doc["schema_version"] == 2 and doc["torch"]["version"]
        assert load(path)["tests"]  # valid against the schema
        rows = doc["tests"]
        ran = [r for r in rows if r["outcome"] == "passed"]
        assert ran and all(r["params"]["device"] == "cpu" and r["params"]["mode"] == "eager" for r in ran)
        # Absent devices are recorded once, in the header, never as rows.
        absent = {n for n, i in doc["devices"].items() if not i["present"]}
        assert absent and not [r for r in rows if r["params"].get("device") in absent]
        obs = next(o for o in ran[0]["observations"] if o["name"] == "a.grad")
        assert obs["ok"] is True and obs["observed"]["tensor"] in (6.0, [6.0])
        assert "PASS RET-001" in proc.stdout


class TestGate:
    """A gate that cannot pass by accident (the plugin's exit codes), run as a user runs it."""

    def test_a_selection_that_verifies_nothing_exits_5_with_one_line(self):
        proc = pytest_run("--claim", "EW-001", "--dtype", "float16", "-q")
        assert proc.returncode == 5, proc.stdout + proc.stderr
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "nothing was verified" in ln]
        assert len(lines) == 1, proc.stdout + proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr

    def test_an_unwritable_results_path_is_refused_before_the_run(self):
        proc = pytest_run("--claim", "RET-001", "--results", "/proc/nonexistent/x.json", "-q")
        assert proc.returncode == 4, proc.stdout + proc.stderr
        line = one_line_error(proc)
        assert line.startswith("ERROR: ") and "/proc/nonexistent/x.json" in line and "cannot be written" in line
        assert "passed" not in proc.stdout and "claim report" not in proc.stdout  # nothing ran

    def test_a_partial_run_does_not_overwrite_a_full_run(self, tmp_path):
        path = tmp_path / "full.json"
        full = make_results()
        path.write_text(json.dumps(full))
        proc = pytest_run("--claim", "RET-001", "--results", str(path), "-q")
        assert proc.returncode == 4, proc.stdout + proc.stderr
        line = one_line_error(proc)
        assert "holds a full run" in line and "--results-overwrite" in line
        assert json.loads(path.read_text()) == full  # untouched
        proc = pytest_run("--claim", "RET-001", "--results", str(path), "--results-overwrite", "-q")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        doc = json.loads(path.read_text())
        assert set(doc["claims"]) == {"RET-001"} and doc["selection"]["partial"] is True

    def test_a_mode_selection_without_eager_is_partial(self, tmp_path):
        """--mode aot_eager runs no eager test: it must not pass for a full run over a full run's results."""
        path = tmp_path / "full.json"
        full = make_results()
        path.write_text(json.dumps(full))
        proc = pytest_run("--mode", "aot_eager", "--results", str(path), "-q")
        assert proc.returncode == 4, proc.stdout + proc.stderr
        assert "holds a full run" in one_line_error(proc)
        assert json.loads(path.read_text()) == full


class TestDiff:
    def test_identical_runs_pass_the_gate(self, write_results):
        a = write_results("a.json", make_results("2.14.1"))
        b = write_results("b.json", make_results("2.15.0"))
        proc = spec("diff", a, b)
        assert proc.returncode == 0 and "GATE: PASS" in proc.stdout

    def test_a_claim_that_held_and_fails_closes_the_gate(self, write_results):
        old = make_results("2.14.1")
        new = make_results("2.15.0")
        new["tests"][0].update(outcome="failed", message="a.is_leaf: expected True, observed False")
        new["tests"][0]["observations"][0].update(observed=False, ok=False)
        proc = spec("diff", write_results("a.json", old), write_results("b.json", new))
        assert proc.returncode == 1
        assert "LEAF-001: pass -> fail" in proc.stdout and "GATE: FAIL" in proc.stdout
        assert "REGRESSION cpu eager: pass -> fail" in proc.stdout
        assert "old: true" in proc.stdout and "new: false" in proc.stdout
        report = json.loads(spec("diff", "--format", "json", write_results("a.json", old), write_results("b.json", new)).stdout)
        assert report["regressions"] == ["LEAF-001"]

    def test_a_fixed_claim_does_not_close_the_gate(self, write_results):
        old = make_results("2.14.1")
        old["tests"][0].update(outcome="failed", message="boom")
        proc = spec("diff", write_results("a.json", old), write_results("b.json", make_results("2.15.0")))
        assert proc.returncode == 0 and "fail -> pass" in proc.stdout

    @pytest.mark.parametrize(
        ("setup", "message"),
        [
            ("missing", "no such file"),
            ("notjson", "not a results file (invalid JSON"),
            ("otherjson", "not an autograd-spec results file"),
            ("newer", "schema version 99 is newer"),
            ("emptydir", "folder holds no results files"),
            ("claimsets", "only in OLD: LEAF-001; only in NEW: LEAF-002"),
            ("badoutcome", "at tests[0].outcome: 'maybe' is not one of"),
            ("mixed", "holds results of 2 torch versions (2.9.1, 2.10.0)"),
        ],
    )
    def test_bad_input_is_one_line_exit_2(self, setup, message, tmp_path, write_results):
        good = write_results("good.json", make_results())
        if setup == "missing":
            bad = tmp_path / "nope.json"
        elif setup == "notjson":
            bad = tmp_path / "bad.json"
            bad.write_text("{not json")
        elif setup == "otherjson":
            bad = write_results("other.json", {"hello": 1})
        elif setup == "newer":
            bad = write_results("newer.json", make_results(schema_version=99))
        elif setup == "emptydir":
            bad = tmp_path / "empty"
            bad.mkdir()
        elif setup == "badoutcome":
            doc = make_results()
            doc["tests"][0]["outcome"] = "maybe"
            bad = write_results("badoutcome.json", doc)
        elif setup == "mixed":
            write_results("mixed/a.json", make_results("2.10.0"))
            write_results("mixed/b.json", make_results("2.9.1"))
            bad = tmp_path / "mixed"
        else:
            other = make_results(tests=[make_row("LEAF-002")])
            bad = write_results("other-claims.json", other)
        proc = spec("diff", good, bad)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        line = one_line_error(proc)
        assert message in line, line


class TestMatrix:
    def test_markdown_and_html_show_statuses_devices_and_modes(self, tmp_path, write_results):
        for version in ("2.9.1", "2.10.0", "2.1.2"):
            rows = [make_row("LEAF-001"), make_row("LEAF-001", mode="func", nodeid="t.py::f[func]"),
                    make_row("LEAF-002", "n/a", reason="no such feature in this torch")]
            write_results(f"m/{version}.json", make_results(version, rows))
        proc = spec("matrix", tmp_path / "m")
        assert proc.returncode == 0, proc.stderr
        out = proc.stdout
        header = next(ln for ln in out.splitlines() if ln.startswith("| claim |"))
        assert header.index("2.1.2 eager") < header.index("2.1.2 func") < header.index("2.9.1 eager") < header.index("2.10.0 eager")
        row = next(ln for ln in out.splitlines() if ln.startswith("| [LEAF-002](#LEAF-002)"))
        cells = [c.strip() for c in row.split("|")[2:-1]]
        assert cells[0].startswith("➖") and "✅" not in row  # n/a, never pass
        assert "no such feature in this torch" in out
        assert '<a id="LEAF-001"></a>' in out  # one anchor spelling: the ID itself
        assert "`cuda`: absent in every run" in out
        html_out = tmp_path / "m.html"
        assert spec("matrix", tmp_path / "m", "-o", html_out).returncode == 0
        page = html_out.read_text()
        assert '<tr id="LEAF-002">' in page and 'class="st-na"' in page and "st-pass" in page

    def test_failures_show_their_message(self, write_results):
        d = make_results()
        d["tests"][0].update(outcome="failed", message="a.is_leaf: expected True, observed False")
        proc = spec("matrix", write_results("f.json", d))
        assert "❌" in proc.stdout and "observed False" in proc.stdout

    def test_bad_output_suffix(self, write_results, tmp_path):
        proc = spec("matrix", write_results("g.json", make_results()), "-o", tmp_path / "x.txt")
        assert proc.returncode == 2 and "must end in .md or .html" in proc.stderr


class TestMerge:
    def test_merges_artifact_folders_into_matrix_and_book(self, tmp_path, write_results):
        write_results("artifacts/torch-2.10.0/results.json", make_results("2.10.0"))
        write_results("artifacts/torch-2.9.1/results.json", make_results("2.9.1"))
        out = tmp_path / "site"
        proc = spec("merge", tmp_path / "artifacts", "-o", out)
        assert proc.returncode == 0, proc.stderr
        assert "merged 2 results files" in proc.stdout
        md = (out / "matrix.md").read_text()
        assert md.index("- 2.9.1:") < md.index("- 2.10.0:")
        assert (out / "matrix.html").is_file() and (out / "book" / "index.html").is_file()
        assert (out / "book" / "hazards.md").is_file()

    @pytest.mark.parametrize(
        ("setup", "message"),
        [("nofolder", "no such folder"), ("empty", "holds no results files"), ("partial", "is a partial run"),
         ("twice", "two results files describe the same run"), ("invalid", "not a valid results file")],
    )
    def test_bad_input_is_one_line_exit_2(self, tmp_path, write_results, setup, message):
        src = tmp_path / "in"
        src.mkdir()
        if setup == "nofolder":
            src = tmp_path / "nope"
        elif setup == "partial":
            doc = make_results()
            doc["selection"]["partial"] = True
            write_results("in/p.json", doc)
        elif setup == "twice":
            write_results("in/a/r.json", make_results())
            write_results("in/b/r.json", make_results())
        elif setup == "invalid":
            doc = make_results()
            del doc["tests"][0]["params"]["mode"]
            write_results("in/bad.json", doc)
        proc = spec("merge", src, "-o", tmp_path / "out")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert message in one_line_error(proc)
