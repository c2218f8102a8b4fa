"""The sensitivity proof: every claim passes on unpatched torch and fails under at least one mutant.

The proof runs once per session (:mod:`tests.meta.proof`: one interpreter imports torch and the
claims, then forks a child per mutant), shared by the xdist workers; the tests below read its
report.  A kill counts only when a recorded check fails (or a hazard reports itself fixed),
never an uncaught exception in a test's own code.  Run it alone with
``python -m pytest tests/meta/test_sensitivity.py`` or ``python -m tests.meta.proof``.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from spec.claims import registry
from tests.meta import mutation
from tests.meta.mutation import load_all
from tests.meta.proof import judge

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = load_all()


def _proof_command(json_path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tests.meta.proof", "--json", str(json_path), *extra]


def _proof_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", mutation.ENV))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _run(json_path: Path, *extra: str, timeout: float = 1800) -> dict:
    proc = subprocess.run(
        _proof_command(json_path, *extra), cwd=ROOT, env=_proof_env(), capture_output=True, text=True, timeout=timeout
    )
    if not json_path.exists():
        return {"error": f"the proof wrote no report (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"}
    report = json.loads(json_path.read_text())
    report["stdout"] = proc.stdout[-8000:]
    return report


@pytest.fixture(scope="session")
def proof(tmp_path_factory) -> dict:
    """The whole proof's report, computed once and shared by the xdist workers (under a file lock)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = shared / "sensitivity-proof.json"
    try:
        import fcntl
    except ImportError:  # no flock (Windows): each worker runs its own proof
        fcntl = None
        path = base / "sensitivity-proof.json"
    with open(shared / "sensitivity-proof.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            report = _run(path.with_suffix(".run.json"))
            path.write_text(json.dumps(report))
    report = json.loads(path.read_text())
    if "error" in report:
        pytest.fail(report["error"])
    return report


def _mutant_report(proof: dict, name: str) -> dict:
    found = [m for m in proof["mutants"] if m["name"] == name]
    if not found:
        pytest.fail(f"the proof did not run mutant {name!r} (registered after it started?)")
    return found[0]


# ------------------------------------------------------------------------------- the proof itself


def test_every_claim_is_killed_by_some_mutant():
    # the mutants of this torch, and those of other releases (the index: a mutant whose version-conditional kills
    # are all off here is not run here, for a claim that is n/a on this torch)
    index = json.loads((Path(__file__).resolve().parents[2] / "spec" / "data" / "mutants.json").read_text())
    killed = {cid for m in MUTANTS.values() for cid in m.kills} | {cid for m in index["mutants"] for cid in m["kills"]}
    unknown = sorted(killed - set(registry()))
    assert not unknown, f"mutants name claims that do not exist: {unknown}"
    survivors = sorted(set(registry()) - killed)
    assert not survivors, f"claims that no mutant kills (a claim that cannot fail is a defect): {survivors}"


def test_unpatched_torch_passes_every_claim(proof):
    base = proof["baseline"]
    assert base is not None, "the proof ran no baseline"
    assert base["status"] == "ran", f"the unpatched run ended: {base['status']}: {base['error']}\n{base['output']}"
    assert not base["missing"], f"claims with no test in the run: {base['missing']}\n{base['output']}"
    assert not base["failing"], f"claims failing on unpatched torch: {base['failing']}"


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_kills_its_claims(name, proof):
    m = _mutant_report(proof, name)
    assert m["status"] != "apply-error", f"mutant {name!r} failed to apply (an error of the proof):\n{m['error']}"
    assert m["status"] in ("ran", "skipped"), f"mutant {name!r}: its run ended: {m['status']}: {m['error']}\n{m['output']}"
    not_killed = {cid: v for cid, v in m["verdicts"].items() if v["verdict"] not in ("check", "hazard-fixed", "not-verifiable")}
    assert not not_killed, (
        f"mutant {name!r} ({m['doc']}) should make these claims fail through a recorded check, but: "
        + "; ".join(f"{cid}: {v['verdict']}: {v['detail']}" for cid, v in not_killed.items())
        + f"\n{m['output']}"
    )


def test_proof_kills_only_through_recorded_checks(proof, capsys, record_property):
    """The summary: kills by recorded check vs by exception (the latter must be 0), and its wall time."""
    from tests.meta.proof import summary_lines

    lines = summary_lines(proof)
    record_property("sensitivity-proof", "\n".join(lines))
    with capsys.disabled():
        print("\n" + "\n".join(lines[:4]))
    s = proof["summary"]
    assert s["failed_only_by_exception"] == 0, "\n".join(lines)
    assert not s["apply_errors"], "\n".join(lines)
    assert s["kills_by_check"] + s["kills_by_hazard_fixed"] > 0


# ------------------------------------------------------------------------------- how the proof judges


def _row(outcome, failure=None, claim="X-001"):
    return {"nodeid": f"t.py::test[{outcome}]", "claim": claim, "outcome": outcome, "failure": failure, "message": "m"}


@pytest.mark.parametrize(
    ("kind", "rows", "verdict"),
    [
        ("rule", [_row("passed"), _row("failed", {"kind": "check", "check": "x.grad"})], "check"),
        ("rule", [_row("failed", {"kind": "exception", "type": "AttributeError", "when": "call"})], "exception"),
        ("rule", [_row("error", {"kind": "exception", "type": "ValueError", "when": "setup"})], "exception"),
        ("rule", [_row("failed")], "exception"),  # unclassified: never a kill
        ("hazard", [_row("fixed", {"kind": "hazard-fixed", "check": "x"})], "hazard-fixed"),
        ("rule", [_row("fixed", {"kind": "hazard-fixed", "check": "x"})], "survived"),
        ("hazard", [_row("failed", {"kind": "check", "check": "x"})], "check"),
        ("rule", [_row("passed"), _row("passed")], "survived"),
        ("rule", [], "survived"),
        (
            "rule",
            [_row("failed", {"kind": "exception", "type": "E", "when": "call"}), _row("failed", {"kind": "check"})],
            "check",
        ),
    ],
)
def test_a_kill_is_a_recorded_check_or_a_fixed_hazard(kind, rows, verdict):
    assert judge("X-001", kind, rows, [_row("passed")])[0] == verdict


def test_a_claim_that_verifies_nothing_here_is_not_verifiable_not_a_survivor():
    na = [_row("n/a"), _row("skipped")]
    assert judge("X-001", "rule", na, na)[0] == "not-verifiable"
    assert judge("X-001", "rule", [], na)[0] == "not-verifiable"
    # skipped under the mutant but verified on unpatched torch: the mutant hid it
    assert judge("X-001", "rule", na, [_row("passed")])[0] == "survived"


FAILING_MUTANTS = '''
import sys

from tests.meta.mutation import mutant


@mutant("raises-while-patching", kills=["LEAF-001"])
def _(torch):
    """A patch that crashes."""
    raise RuntimeError("boom while patching")


@mutant("raises-in-child-interpreters", kills=["CG-004"])
def _(torch):
    """Patches fine where the proof applies it, crashes in the fresh interpreter that CG-004 starts."""
    if sys.argv[:1] == ["-c"]:
        raise RuntimeError("boom in a child interpreter")
'''


def test_a_mutant_that_fails_to_apply_is_an_error_of_the_proof_with_its_traceback(tmp_path):
    module = tmp_path / "mutants_failing.py"
    module.write_text(FAILING_MUTANTS)
    report = _run(tmp_path / "proof.json", "--module", str(module), "--baseline", "none", timeout=900)
    assert "error" not in report, report.get("error")
    by = {m["name"]: m for m in report["mutants"]}
    here, child = by["raises-while-patching"], by["raises-in-child-interpreters"]
    assert here["status"] == "apply-error"
    assert "RuntimeError: boom while patching" in here["error"] and "Traceback" in here["error"]
    assert child["status"] == "apply-error", child
    assert "RuntimeError: boom in a child interpreter" in child["error"]
    assert "Error in sitecustomize" not in child["output"]
    assert report["summary"]["apply_errors"] == ["raises-in-child-interpreters", "raises-while-patching"]
    assert "ERROR raises-while-patching: failed to apply" in report["stdout"]


# ------------------------------------------------------------------------------- the mutants themselves


def _body_without_docstring(fn) -> str:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    body = tree.body[0].body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return "\n".join(ast.dump(node) for node in body)


def test_no_two_mutants_are_the_same_patch():
    seen: dict[str, str] = {}
    same = []
    for name, m in sorted(MUTANTS.items()):
        key = _body_without_docstring(m.apply)
        if key in seen:
            same.append((seen[key], name))
        seen.setdefault(key, name)
    assert not same, f"mutants with the same patch (merge them, with the union of their kills): {same}"


def test_the_mutant_index_is_current(tmp_path):
    """The committed index is what ``python -m tests.meta.mutation --index`` writes (on any torch release)."""
    fresh = tmp_path / "mutants.json"
    env = {k: v for k, v in os.environ.items() if k != "SPEC_MUTANT"}
    proc = subprocess.run([sys.executable, "-m", "tests.meta.mutation", "--index", str(fresh)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    committed = mutation.INDEX_PATH.read_text(encoding="utf-8") if mutation.INDEX_PATH.exists() else ""
    assert committed == fresh.read_text(encoding="utf-8"), (
        f"{mutation.INDEX_PATH.relative_to(ROOT)} is stale: regenerate it with "
        "python -m tests.meta.mutation --index spec/data/mutants.json"
    )


def test_mutant_declares_modes():
    try:
        mutation.mutant("spec-test-modes", kills=["LEAF-001"], modes="all")(lambda torch: None)
        mutation.mutant("spec-test-modes-2", kills=["LEAF-001"], modes=("eager", "aot_eager"))(lambda torch: None)
        assert mutation.MUTANTS["spec-test-modes"].modes == ("all",)
        assert mutation.MUTANTS["spec-test-modes-2"].modes == ("eager", "aot_eager")
        assert mutation.MUTANTS["spec-test-modes-2"].module == __name__
        with pytest.raises(mutation.MutantError, match="modes must be"):
            mutation.mutant("spec-test-modes-3", kills=["LEAF-001"], modes=("warp",))(lambda torch: None)
    finally:
        for name in ("spec-test-modes", "spec-test-modes-2", "spec-test-modes-3"):
            mutation.MUTANTS.pop(name, None)


def test_patch_replaces_what_is_stored_and_hands_over_the_original():
    class Base:
        @property
        def value(self):
            return 1

        def method(self):
            return "m"

    class Owner(Base):
        pass

    seen = []
    mutation.patch(Owner, "value", lambda prop: seen.append(prop) or property(lambda self: prop.__get__(self) + 1))
    mutation.wrap_function(Owner, "method", lambda orig: lambda self: orig(self) * 2)
    assert isinstance(seen[0], property)
    assert Owner().value == 2 and Base().value == 1
    assert Owner().method() == "mm"
    with pytest.raises(mutation.MutantError, match="no attribute 'missing'"):
        mutation.patch(Owner, "missing", lambda orig: orig)
