"""Derivative providers (spec/providers): the loader, --provider on the claim run, and the worked example."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spec import providers

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"


def pytest_run(*args: str, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SPEC_MUTANT"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([str(extra_path)] if extra_path else []))
    cmd = [sys.executable, "-m", "pytest", "spec/suite", "-p", "no:randomly", "-p", "no:cacheprovider", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def one_line(proc: subprocess.CompletedProcess) -> str:
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(err) == 1, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    return err[0]


class TestLoader:
    def test_built_ins_load_and_offer_every_operator(self):
        for name in ("autograd", "func"):
            p = providers.load(name)
            assert providers.offered(p) == list(providers.OPERATORS)
            assert p.protocol == providers.PROTOCOL_VERSION

    def test_jet_is_a_known_provider_unavailable_here_with_the_reason(self):
        p = providers.load("jet")
        if not getattr(p, "unavailable", None):
            pytest.skip("jet-for-pytorch is installed here")
        assert "Python >= 3.12" in p.unavailable and "torch >= 2.10" in p.unavailable

    def test_module_object_and_comma_lists(self):
        sys.path.insert(0, str(EXAMPLES))
        try:
            got = providers.resolve("autograd, my_operators:PROVIDER")
        finally:
            sys.path.remove(str(EXAMPLES))
        assert [name for name, _ in got] == ["autograd", "my_operators:PROVIDER"]
        assert "jacobian" not in providers.offered(got[1][1])

    @pytest.mark.parametrize(("name", "fragment"), [
        ("nope", "unknown provider"),
        ("no_such_module_xyz:PROVIDER", "does not import (ModuleNotFoundError"),
        ("spec.providers:OPERATORS", "offers none of the operators"),
        ("spec.providers:NOT_THERE", "has no attribute"),
    ])
    def test_bad_providers_are_one_error(self, name, fragment):
        with pytest.raises(providers.ProviderError, match=fragment.replace("(", r"\(")):
            providers.load(name)

    def test_default_run_is_the_reference_only(self):
        assert providers.DEFAULT == ("autograd",)
        assert not providers.is_partial(None) and not providers.is_partial(["func", "autograd"])
        assert providers.is_partial(["func"])


class TestOption:
    @pytest.mark.parametrize(("value", "fragment"), [
        ("nope", "--provider nope: unknown provider"),
        ("no_such_module_xyz:PROVIDER", "module 'no_such_module_xyz' does not import"),
        ("os:sep", "offers none of the operators"),
    ])
    def test_a_bad_provider_is_one_line_and_exit_4(self, value, fragment):
        proc = pytest_run("--claim", "OPER-001", "--provider", value, "-q")
        assert proc.returncode == 4, proc.stdout + proc.stderr
        line = one_line(proc)
        assert line.startswith("ERROR: ") and fragment in line, line

    def test_each_provider_is_a_test_axis_in_the_results(self, tmp_path):
        path = tmp_path / "r.json"
        proc = pytest_run("--claim", "OPER-004,OPER-017", "--provider", "autograd,func", "--results", str(path), "-q")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        doc = json.loads(path.read_text())
        assert {r["params"]["provider"] for r in doc["tests"]} == {"autograd", "func"}
        assert any(r["nodeid"].endswith("-autograd]") for r in doc["tests"])
        assert doc["selection"]["providers"] == ["autograd", "func"]

    def test_the_default_run_checks_the_reference_only(self, tmp_path):
        path = tmp_path / "r.json"
        proc = pytest_run("--claim", "OPER-004", "--results", str(path), "-q")
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert {r["params"]["provider"] for r in json.loads(path.read_text())["tests"]} == {"autograd"}

    def test_the_worked_example_on_pythonpath_passes_and_is_na_where_it_offers_nothing(self, tmp_path):
        path = tmp_path / "r.json"
        proc = pytest_run("--claim", "OPER-004,OPER-005,OPER-010", "--provider", "my_operators:PROVIDER",
                          "--results", str(path), "-q", extra_path=EXAMPLES)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        rows = json.loads(path.read_text())["tests"]
        by_claim = {c: {r["outcome"] for r in rows if r["claim"] == c} for c in ("OPER-004", "OPER-005", "OPER-010")}
        assert by_claim == {"OPER-004": {"passed"}, "OPER-005": {"n/a"}, "OPER-010": {"passed"}}
        assert all("offers no jacobian" in r["reason"] for r in rows if r["claim"] == "OPER-005")


@pytest.mark.parametrize("case_id", ["derivative-k4-provider_autograd", "derivative-k4-provider_func",
                                     "laplacian-d2-provider_autograd", "laplacian-d2-provider_func",
                                     "biharmonic-d2-provider_func", "pinn_step-d2-provider_autograd"])
def test_the_providers_in_the_benchmarks_agree_with_the_float64_reference(case_id):
    import torch

    from tests.bench import methods as bm
    from tests.bench import workloads as bw

    case = bm.parse_case_id(case_id)
    assert case.na_reason is None
    value = bm.build(case, dtype=torch.float64).method()
    assert bw.relative_error(value, bm.reference(case)) < bw.TOLERANCE["float64"]


def test_the_jet_provider_in_the_benchmarks_says_why_not_here():
    from tests.bench import methods as bm

    why = bm.REGISTRY["provider_jet"].unavailable()
    if why is None:
        pytest.skip("jet-for-pytorch is installed here")
    assert why.startswith("n/a: provider jet is unavailable") and "Python >= 3.12" in why
