"""The sensitivity proof: every claim passes on unpatched torch and fails under at least one mutant.

Each mutant runs in a fresh ``pytest`` process over just the claims it declares,
with the mutant applied from a generated ``sitecustomize`` so that child
interpreters started by a claim are mutated too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spec.claims import registry
from spec.results import claim_outcome
from tests.meta.mutation import ENV, SITECUSTOMIZE, load_all

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = load_all()


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mutant-site")
    (path / "sitecustomize.py").write_text(SITECUSTOMIZE.format(root=str(ROOT), env=ENV))
    return path


def run_claims(claim_ids, site_dir: Path, tmp_path: Path, mutant: str | None) -> dict:
    results = tmp_path / "results.json"
    env = dict(os.environ)
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    env["PYTHONPATH"] = os.pathsep.join([str(site_dir), str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if mutant:
        env[ENV] = mutant
    else:
        env.pop(ENV, None)
    cmd = [
        sys.executable, "-m", "pytest", str(ROOT / "tests" / "claims"),
        "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--no-claim-report",
        "--device", "cpu", "--results", str(results), "--claim", ",".join(claim_ids),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if not results.exists():
        pytest.fail(f"the claim run wrote no results (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    doc = json.loads(results.read_text())
    doc["_output"] = proc.stdout[-4000:]
    return doc


def outcomes_by_claim(doc: dict) -> dict[str, dict]:
    by: dict[str, list] = {}
    for row in doc["tests"]:
        by.setdefault(row["claim"], []).append(row)
    return {cid: {"outcome": claim_outcome(rows), "rows": rows} for cid, rows in by.items()}


def test_every_claim_is_killed_by_some_mutant():
    killed = {cid for m in MUTANTS.values() for cid in m.kills}
    unknown = sorted(killed - set(registry()))
    assert not unknown, f"mutants name claims that do not exist: {unknown}"
    survivors = sorted(set(registry()) - killed)
    assert not survivors, f"claims that no mutant kills (a claim that cannot fail is a defect): {survivors}"


def test_unpatched_torch_passes_every_claim(site_dir, tmp_path):
    doc = run_claims(list(registry()), site_dir, tmp_path, mutant=None)
    by = outcomes_by_claim(doc)
    missing = sorted(set(registry()) - set(by))
    assert not missing, f"claims with no test in the run: {missing}"
    failing = {cid: [r["message"] for r in v["rows"] if r["outcome"] != "passed"] for cid, v in by.items() if v["outcome"] != "pass"}
    assert not failing, f"claims failing on unpatched torch: {failing}"


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_kills_its_claims(name, site_dir, tmp_path):
    m = MUTANTS[name]
    doc = run_claims(m.kills, site_dir, tmp_path, mutant=name)
    by = outcomes_by_claim(doc)
    survived = []
    for cid in m.kills:
        rows = by.get(cid, {"rows": []})["rows"]
        failed = [r for r in rows if r["outcome"] == "failed"]
        if not failed:
            survived.append(f"{cid} ({', '.join(sorted({r['outcome'] for r in rows})) or 'no tests ran'})")
    assert not survived, (
        f"mutant {name!r} ({m.doc}) should make these claims fail, but they did not: {survived}\n{doc['_output']}"
    )
