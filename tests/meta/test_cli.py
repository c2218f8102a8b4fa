"""The command line and pytest options: listings, usage errors, results, matrix and diff."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.meta.conftest import make_results

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
        assert len(part1) == 22
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


class TestResultsFile:
    def test_one_claim_run_writes_results(self, tmp_path):
        path = tmp_path / "r.json"
        proc = pytest_run("--claim", "RET-001", "--results", str(path), "-q")
        assert proc.returncode == 0, proc.stdout
        doc = json.loads(path.read_text())
        assert set(doc["claims"]) == {"RET-001"}
        assert doc["schema_version"] == 1 and doc["torch"]["version"]
        rows = doc["tests"]
        ran = [r for r in rows if r["outcome"] == "passed"]
        skipped = [r for r in rows if r["outcome"] == "skipped"]
        assert ran and all(r["params"]["device"] == "cpu" for r in ran)
        assert all(r["reason"] and "absent" in r["reason"] for r in skipped)
        obs = ran[0]["observations"][0]
        assert obs["name"] == "a.grad" and obs["ok"] is True and obs["observed"]["tensor"] in (6.0, [6.0])
        assert "PASS RET-001" in proc.stdout


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
        assert "old: true" in proc.stdout and "new: false" in proc.stdout
        report = json.loads(spec("diff", "--format", "json", write_results("a.json", old), write_results("b.json", new)).stdout)
        assert report["regressions"] == ["LEAF-001"]

    def test_a_fixed_claim_does_not_close_the_gate(self, write_results):
        old = make_results("2.14.1")
        old["tests"][0]["outcome"] = "failed"
        proc = spec("diff", write_results("a.json", old), write_results("b.json", make_results("2.15.0")))
        assert proc.returncode == 0 and "fail -> pass" in proc.stdout

    def test_recorded_change_is_listed_with_its_ref(self, write_results):
        def doc(version, branch, text):
            d = make_results(version)
            d["tests"][0]["expectations"] = [{"key": "LEAF-001/message", "branch": branch, "expected": text,
                                               "values": {"<2.15": "old", ">=2.15": "new"}, "ref": "https://x/pr/1",
                                               "changed_in": ["2.15.0"]}]
            return d

        proc = spec("diff", write_results("a.json", doc("2.14.1", "<2.15", "old")), write_results("b.json", doc("2.15.0", ">=2.15", "new")))
        assert proc.returncode == 0
        assert "recorded change LEAF-001/message (<2.15 -> >=2.15, https://x/pr/1)" in proc.stdout

    @pytest.mark.parametrize(
        ("setup", "message"),
        [
            ("missing", "no such file"),
            ("notjson", "not a results file (invalid JSON"),
            ("otherjson", "not an autograd-spec results file"),
            ("newer", "schema version 99 is newer"),
            ("emptydir", "folder holds no results files"),
            ("claimsets", "only in OLD: LEAF-001; only in NEW: LEAF-002"),
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
        else:
            other = make_results()
            other["tests"][0]["claim"] = "LEAF-002"
            other["claims"] = {"LEAF-002": {"statement": "s", "section": "Leaf tensors"}}
            bad = write_results("other-claims.json", other)
        proc = spec("diff", good, bad)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr


class TestMatrix:
    def test_markdown_and_html_show_changes_and_skips(self, tmp_path, write_results):
        docs = []
        for version, branch in (("2.0.1", "<2.1"), ("2.1.2", ">=2.1"), ("2.2.2", ">=2.1")):
            d = make_results(version)
            d["tests"][0]["expectations"] = [{"key": "LEAF-001/message", "branch": branch, "expected": branch,
                                               "values": {"<2.1": "old", ">=2.1": "new"}, "ref": "https://x/pr/2",
                                               "changed_in": ["2.1.2"]}]
            docs.append(write_results(f"m/{version}.json", d))
        proc = spec("matrix", tmp_path / "m")
        assert proc.returncode == 0, proc.stderr
        row = next(ln for ln in proc.stdout.splitlines() if ln.startswith("| [LEAF-001]"))
        cells = [c.strip() for c in row.split("|")[2:-1]]
        assert cells[0].startswith("✅") and cells[1].startswith("🔄") and cells[2].startswith("✅")
        assert "changed in torch 2.1.2" in proc.stdout and "https://x/pr/2" in proc.stdout
        assert "`cuda`: absent in every run" in proc.stdout
        out = tmp_path / "m.html"
        assert spec("matrix", tmp_path / "m", "-o", out).returncode == 0
        html = out.read_text()
        assert "<table>" in html and 'class=changed' in html and "https://x/pr/2" in html

    def test_failures_show_their_message(self, write_results):
        d = make_results()
        d["tests"][0].update(outcome="failed", message="a.is_leaf: expected True, observed False")
        proc = spec("matrix", write_results("f.json", d))
        assert "❌" in proc.stdout and "observed False" in proc.stdout

    def test_bad_output_suffix(self, write_results, tmp_path):
        proc = spec("matrix", write_results("g.json", make_results()), "-o", tmp_path / "x.txt")
        assert proc.returncode == 2 and "must end in .md or .html" in proc.stderr
