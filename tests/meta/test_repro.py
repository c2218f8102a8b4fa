"""``autograd-spec repro ID``: a claim as a standalone script that runs its checks and prints expected against observed.

- LEAF-004's script runs with ``python -`` (torch and the standard library only: spec is not importable there) and
  exits 0; under a mutant of torch that breaks LEAF-004 (applied by the sensitivity proof's ``sitecustomize``) it
  exits 1 and prints the failing check's expected and observed values;
- every claim's script is generated (torch and the standard library only); the scripts of a sample of claims from
  different sections (fixtures, parametrize, isolated interpreters, hypothesis examples, by_version, hazards, a
  non-eager mode) run and hold, as the suite does here;
- the script's checks have spec.check's semantics, compared on the same inputs;
- bad input is one line and exit 4.

The full sweep (every claim's script, against a suite run on the same torch) takes minutes: ``SPEC_REPRO_SWEEP=1``.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from spec.claims import registry
from tests.meta import mutation

ROOT = Path(__file__).resolve().parents[2]


def repro(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "spec", "repro", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def script_of(*args: str) -> str:
    proc = repro(*args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def run_script(text: str, cwd: Path, *, mutant: str | None = None, module: str | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """``python - < script`` from ``cwd``, spec not importable; with a mutant, through the proof's sitecustomize."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "SPEC_MUTANT")) and k not in ("PYTHONPATH", "PYTHONWARNINGS")}
    if mutant:
        site = cwd / "site"
        site.mkdir(exist_ok=True)
        (site / "sitecustomize.py").write_text(mutation.sitecustomize(ROOT))
        env.update({"PYTHONPATH": str(site), mutation.ENV: mutant, mutation.ENV_MODULE: module})
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(key, "1")
    return subprocess.run([sys.executable, "-"], input=text, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def imported_roots(text: str) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0])
    return roots


# ------------------------------------------------------------------ the acceptance: LEAF-004


@pytest.fixture(scope="module")
def leaf_004() -> str:
    return script_of("LEAF-004")


def test_leaf_004_script_is_standalone_and_holds(leaf_004, tmp_path):
    assert leaf_004.startswith("#!/usr/bin/env python3\n# autograd-spec claim LEAF-004 (rule)")
    assert "python - < repro.py" in leaf_004 and "Expectations resolved for torch " in leaf_004
    assert imported_roots(leaf_004) <= set(sys.stdlib_module_names) | {"torch"}
    assert "def test_computed_constant_is_leaf(device, dtype, form, check):" in leaf_004
    assert "@claim" not in leaf_004 and "@dtypes" not in leaf_004
    assert "def flags(" in leaf_004 and "def hazard(" not in leaf_004, "the script's Check keeps the checks it calls"
    proc = run_script(leaf_004, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "LEAF-004 holds: 2 of 2 cases passed" in proc.stdout
    assert proc.stdout.count("  ok    d.is_leaf\n          expected: True\n          observed: True") == 2


@pytest.mark.parametrize("mutant", ["computed-constants-are-not-leaves", "constants-are-not-leaves"])
def test_leaf_004_script_fails_under_a_mutant_and_prints_both_values(leaf_004, tmp_path, mutant):
    proc = run_script(leaf_004, tmp_path, mutant=mutant, module="tests.meta.mutants.leaf_tensors")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "  FAIL  d.is_leaf\n          expected: True\n          observed: False" in proc.stdout
    assert "LEAF-004 DOES NOT HOLD: 2 of 2 cases failed" in proc.stdout


def test_output_file_and_version_gates(tmp_path):
    out = tmp_path / "repro.py"
    proc = repro("UNUSED-001", "--torch", "2.12.1", "-o", str(out))
    assert proc.returncode == 0 and proc.stdout == "", proc.stderr
    text = out.read_text()
    assert "Expectations resolved for torch 2.12.1:" in text
    assert "by_version(" not in text and not re.search(r"^\s*(from|import) (spec|pytest)\b", text, re.M)
    assert re.search(r"# by_version 'UNUSED-001/[^']+': torch 2\.12\.1 is in '<2\.13'; https://", text), text


# ------------------------------------------------------------------ a sample of claims

#: Claims from different sections, chosen for what their tests use: parametrize, an isolated interpreter and
#: warn_always (LIFE-005), by_version (UNUSED-001), hypothesis examples (LAW-002), an
#: autouse fixture (FUNC-001, FN-002), spec/suite/pinn.py (PARAM-005), a hazard (HZ-001), the func mode (TFUNC-001).
SAMPLE = [("UNUSED-001", {}), ("LAW-002", {}), ("INPLACE-003", {}), ("FUNC-001", {}),
          ("PARAM-005", {}), ("LIFE-005", {}), ("HZ-001", {}), ("FN-002", {}), ("TFUNC-001", {"mode": "func"})]


def test_a_sample_of_claims_scripts_run_and_hold(tmp_path):
    from spec.repro import generate

    scripts = {claim_id: generate(claim_id, **options) for claim_id, options in SAMPLE}  # here: no interpreter each
    for claim_id, text in scripts.items():
        assert imported_roots(text) <= set(sys.stdlib_module_names) | {"torch"}, claim_id

    def one(claim_id):
        cwd = tmp_path / claim_id
        cwd.mkdir()
        return claim_id, run_script(scripts[claim_id], cwd)

    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(one, scripts))
    failed = [f"{a}: exit {p.returncode}\n{p.stdout[-1500:]}{p.stderr[-1500:]}" for a, p in done if p.returncode != 0]
    assert not failed, "\n\n".join(failed)
    assert all(re.search(r"\n\w+-\d{3} (holds|the hazard is present, as recorded): \d+ of \d+ cases passed", p.stdout)
               for _, p in done)


#: Claims repro refuses (one line, exit 4) because a standalone script has no stand-in for what they need: the
#: two-rank gloo harness (DDP), a derivative provider (the operator claims), another module's Function (GCHK-004).
REPRO_UNSUPPORTED_SECTIONS = {"Distributed data parallel", "Derivative operators"}
REPRO_UNSUPPORTED_CLAIMS = {"GCHK-004"}


def test_every_claims_script_is_generated_and_imports_torch_and_the_standard_library_only():
    from spec.errors import CommandError
    from spec.repro import generate

    allowed = set(sys.stdlib_module_names) | {"torch"}
    wrong, refused = {}, set()
    for claim_id in registry():
        try:
            text = generate(claim_id)  # compiles it too
        except CommandError as exc:
            assert "not supported by repro yet" in str(exc) and "\n" not in str(exc), (claim_id, str(exc))
            refused.add(claim_id)
            continue
        if imported_roots(text) - allowed:
            wrong[claim_id] = sorted(imported_roots(text) - allowed)
    assert not wrong, wrong
    expected = {cid for cid, c in registry().items() if c.section in REPRO_UNSUPPORTED_SECTIONS} | REPRO_UNSUPPORTED_CLAIMS
    assert refused == expected, {"refused, not expected": sorted(refused - expected),
                                 "expected refused, generated": sorted(expected - refused)}


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(("args", "message"), [
    (["LEAF-01"], "unknown claim ID 'LEAF-01'; nearest: LEAF-001"),
    (["LEAF-004", "--device", "tpu"], "unknown device 'tpu'"),
    (["LEAF-004", "--dtype", "float8"], "unknown dtype 'float8'"),
    (["LEAF-004", "--mode", "jit"], "unknown mode 'jit'"),
    (["LEAF-004", "--mode", "func"], "LEAF-004: no test runs with dtype float32 in mode func"),
])
def test_bad_input_is_one_line_and_exit_4(args, message):
    proc = repro(*args)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert proc.stderr.startswith("python -m spec repro: error: ") and message in proc.stderr, proc.stderr


# ------------------------------------------------------------------ the script's checks are spec.check's


def _runtime():
    from spec.precision import TOLERANCES
    from spec.repro import runtime

    runtime.TOLERANCES.update({name: (t.rtol, t.atol) for name, t in TOLERANCES.items()})
    return runtime


def _outcome(check, call, exceptions) -> str:
    failed, fixed = exceptions
    try:
        with contextlib.redirect_stdout(open(os.devnull, "w")):  # noqa: SIM115 - the script's checks print
            call(check)
    except fixed:
        return "fixed"
    except failed:
        return "failed"
    return "ok"


def _raising(exc):
    def fn():
        raise exc
    return fn


def _warn(n, text="deprecated thing"):
    def block(check):
        with check.warns("w", UserWarning, "deprecated", count=1):
            for _ in range(n):
                warnings.warn(text, UserWarning, stacklevel=1)
    return block


def _calls():
    import torch

    t = torch.tensor([1.0, 2.0])
    near = torch.tensor([1.0, 2.0 + 1e-6])
    half = torch.tensor([0.5])

    def raises(exc_type, fragment, exc):
        def block(check):
            with check.raises("r", exc_type, fragment):
                raise exc
        return block

    def raises_nothing(check):
        with check.raises("r", RuntimeError, "x"):
            pass

    def no_warning(emit):
        def block(check):
            with check.no_warning("nw", UserWarning, "cycle"):
                if emit:
                    warnings.warn("a reference cycle", UserWarning, stacklevel=1)
        return block

    return {
        "equal same": lambda c: c.equal("e", 1, 1),
        "equal bool is not int": lambda c: c.equal("e", 1, True),
        "equal differs": lambda c: c.equal("e", "a", "b"),
        "true": lambda c: c.true("t", True),
        "false on None": lambda c: c.false("f", None),
        "none": lambda c: c.none("n", t),
        "not_none": lambda c: c.not_none("n", t),
        "matches": lambda c: c.matches("m", "is a leaf by convention", r"leaf\s+by"),
        "matches not a string": lambda c: c.matches("m", 3, "3"),
        "flags": lambda c: c.flags("t", t, requires_grad=False, is_leaf=True, grad_fn=None),
        "flags grad_fn missing": lambda c: c.flags("t", t, grad_fn=True),
        "tensor exact": lambda c: c.tensor("t", t, [1.0, 2.0], dtype=torch.float32, shape=(2,)),
        "tensor exact off by 1e-6": lambda c: c.tensor("t", near, [1.0, 2.0]),
        "close off by 1e-6": lambda c: c.close("t", near, [1.0, 2.0]),
        "tensor wrong dtype": lambda c: c.tensor("t", t, [1.0, 2.0], dtype=torch.float64),
        "tensor wrong shape": lambda c: c.tensor("t", t, [1.0, 2.0], shape=(1, 2)),
        "tensor broadcast": lambda c: c.tensor("t", torch.ones(3), 1.0),
        "tensor not a tensor": lambda c: c.tensor("t", [1.0], [1.0]),
        "call returns": lambda c: c.call("c", lambda: 1, {"outcome": "returned"}),
        "call raises, return expected": lambda c: c.call("c", _raising(RuntimeError("no")), {"outcome": "returned"}),
        "call raises matching": lambda c: c.call("c", _raising(RuntimeError("no double backward")),
                                                 {"outcome": "raised", "matches": r"^RuntimeError: no double"}),
        "call raises another type": lambda c: c.call("c", _raising(ValueError("no double backward")),
                                                     {"outcome": "raised", "matches": r"^RuntimeError: "}),
        "call returns, raise expected": lambda c: c.call("c", lambda: 1, {"outcome": "raised", "matches": "x"}),
        "works": lambda c: c.works("w", lambda: 1),
        "works raises": lambda c: c.works("w", _raising(RuntimeError("no"))),
        "raises matches": raises(RuntimeError, "second time", RuntimeError("backward a second time")),
        "raises other message": raises(RuntimeError, "second time", RuntimeError("other")),
        "raises other type": raises(ValueError, "x", RuntimeError("x")),
        "raises nothing": raises_nothing,
        "warns once": _warn(1),
        "warns twice, count 1": _warn(2),
        "warns other text": _warn(1, "something else"),
        "no_warning quiet": no_warning(False),
        "no_warning warned": no_warning(True),
        "hazard present": lambda c: c.hazard("h", half, wrong=0.5, truth=0.0, exact=True),
        "hazard fixed": lambda c: c.hazard("h", torch.tensor([0.0]), wrong=0.5, truth=0.0, exact=True),
        "hazard changed": lambda c: c.hazard("h", torch.tensor([0.25]), wrong=0.5, truth=0.0),
        "hazard fixed by error": lambda c: c.hazard("h", _raising(RuntimeError("undefined at 0")), wrong=0.5,
                                                     truth=0.0, fixed_by_error="undefined"),
        "hazard recorded absent": lambda c: c.hazard("h", torch.tensor([0.0]), wrong=0.5, truth=0.0, present=False),
        "hazard back": lambda c: c.hazard("h", half, wrong=0.5, truth=0.0, present=False),
        "hazard within tolerance": lambda c: c.hazard("h", torch.tensor([0.5 + 1e-7]), wrong=0.5, truth=0.0),
    }


def test_the_scripts_checks_agree_with_spec_check():
    from spec.check import Check, ClaimCheckFailed, HazardFixed

    runtime = _runtime()
    disagree = []
    outcomes = set()
    for name, call in _calls().items():
        ours = _outcome(runtime.Check(), call, (runtime.CheckFailed, runtime.HazardFixed))
        theirs = _outcome(Check(["X-001"], {}), call, (ClaimCheckFailed, HazardFixed))
        outcomes.add(theirs)
        if ours != theirs:
            disagree.append(f"{name}: script {ours}, spec.check {theirs}")
    assert not disagree, "\n".join(disagree)
    assert outcomes == {"ok", "failed", "fixed"}


# ------------------------------------------------------------------ the full sweep (opt-in)


def _suite_rows(tmp_path: Path) -> dict[str, list[dict]]:
    """Each claim's rows of a suite run on cpu here (eager and func)."""
    results = tmp_path / "suite.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SPEC_MUTANT"))}
    env["PYTHONPATH"] = str(ROOT)
    subprocess.run([sys.executable, "-m", "pytest", "spec/suite", "-p", "no:randomly", "-p", "no:cacheprovider", "-q",
                    "-W", "error::UserWarning", "--device", "cpu", "--mode", "eager,func", "--results", str(results),
                    "--no-claim-report"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    rows: dict[str, list[dict]] = {}
    for row in json.loads(results.read_text())["tests"]:
        rows.setdefault(row["claim"], []).append(row)
    return rows


def _suite_verdict(rows: list[dict], dtype: str, mode: str) -> str:
    """The suite's verdict on the rows a script runs (its dtype or none, its mode): "holds", "fails" or "nothing"."""
    outcomes = {r["outcome"] for r in rows if r["params"].get("dtype") in (dtype, None) and r["params"]["mode"] == mode}
    return "fails" if outcomes & {"failed", "error", "fixed"} else "holds" if "passed" in outcomes else "nothing"


@pytest.mark.skipif(not os.environ.get("SPEC_REPRO_SWEEP"), reason="the full sweep takes minutes: SPEC_REPRO_SWEEP=1")
def test_every_claims_script_agrees_with_the_suite(tmp_path):
    from spec.repro import generate

    suite = _suite_rows(tmp_path)
    scripts = {claim_id: generate(claim_id) for claim_id in registry()}
    verdict = {0: "holds", 1: "fails", 5: "nothing"}

    def one(claim_id):
        text = scripts[claim_id]
        dtype, mode = re.search(r"# Cases: device cpu, dtype (\w+), mode (\w+);", text).groups()
        want = _suite_verdict(suite.get(claim_id, []), dtype, mode)
        cwd = tmp_path / claim_id
        cwd.mkdir()
        ran = run_script(text, cwd, timeout=600)
        got = verdict.get(ran.returncode, f"exit {ran.returncode}")
        return claim_id, None if got == want else f"script {got}, suite {want}\n{ran.stdout[-1500:]}{ran.stderr[-800:]}"

    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(one, scripts))
    wrong = [f"{cid}: {why}" for cid, why in done if why]
    print(f"\n{len(done) - len(wrong)} of {len(done)} claims' scripts run and agree with the suite")
    assert not wrong, f"{len(wrong)} of {len(done)} disagree:\n" + "\n\n".join(wrong)
