"""Fixtures for the framework's own tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from spec.results import SCHEMA, SCHEMA_VERSION


def make_row(claim: str = "LEAF-001", outcome: str = "passed", *, device: str | None = "cpu", mode: str = "eager",
             name: str = "a.is_leaf", observed=True, expected=True, nodeid: str | None = None, hazard: str | None = None,
             **extra) -> dict:
    """One valid results row (schema version 2); ``hazard``: the hazard check's verdict for its observation."""
    params = {"device": device, "dtype": "float32"} if device else {}
    params["mode"] = mode
    ok = outcome not in ("failed", "error")
    row = {
        "nodeid": nodeid or f"t.py::test_{claim.lower().replace('-', '_')}[{'-'.join(str(v) for v in params.values())}]",
        "claim": claim, "kind": "rule", "params": params, "outcome": outcome,
        "reason": "not here" if outcome in ("skipped", "n/a") else None,
        "message": None, "failure": None, "duration": 0.001,
        "observations": [] if outcome in ("skipped",) else [{"name": name, "observed": observed, "expected": expected, "ok": ok}],
        "expectations": [],
    }
    if hazard is not None:
        row["observations"][0]["hazard"] = hazard
    row.update(extra)
    return row


def make_results(version: str = "2.15.0", tests: list[dict] | None = None, claims: dict | None = None, **extra) -> dict:
    """A minimal valid results document (schema version 2): cpu present, cuda absent."""
    tests = tests if tests is not None else [make_row()]
    claims = claims if claims is not None else {
        t["claim"]: {"statement": "s", "section": "Leaf tensors", "kind": t.get("kind", "rule"), "ref": None} for t in tests
    }
    doc = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "torch": {"version": version + "+cpu", "release": version, "build": "cpu", "recorded": True},
        "python": "3.11.7", "platform": "Linux",
        "devices": {"cpu": {"present": True, "detail": "x86_64"}, "cuda": {"present": False, "detail": "cuda absent"}},
        "modes": {"eager": {"available": True, "detail": "plain PyTorch"}, "func": {"available": True, "detail": "torch.func"}},
        "selection": {"devices": None, "dtypes": None, "modes": None, "claims": None, "partial": False, "args": []},
        "claims": claims, "tests": tests,
    }
    doc.update(extra)
    return copy.deepcopy(doc)


@pytest.fixture
def write_results(tmp_path):
    def write(name: str, doc: dict) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
        return path

    return write
