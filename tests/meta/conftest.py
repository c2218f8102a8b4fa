"""Fixtures for the framework's own tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from spec.results import SCHEMA, SCHEMA_VERSION


def make_results(version: str = "2.15.0", tests: list[dict] | None = None, claims: dict | None = None, **extra) -> dict:
    """A minimal valid results document."""
    tests = tests if tests is not None else [
        {"nodeid": "t.py::test_a[cpu]", "claim": "LEAF-001", "params": {"device": "cpu"}, "outcome": "passed",
         "observations": [{"name": "a.is_leaf", "observed": True, "expected": True, "ok": True}], "expectations": []},
    ]
    claims = claims if claims is not None else {t["claim"]: {"statement": "s", "section": "Leaf tensors"} for t in tests}
    doc = {
        "schema": SCHEMA, "schema_version": SCHEMA_VERSION,
        "torch": {"version": version + "+cpu", "release": version, "build": "cpu", "recorded": True},
        "python": "3.11.7", "platform": "Linux", "devices": {"cpu": {"present": True, "detail": "x86_64"},
                                                           "cuda": {"present": False, "detail": "cuda absent"}},
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
