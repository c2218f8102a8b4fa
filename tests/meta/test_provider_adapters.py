"""The PINN-library adapters (spec/providers/deepxde.py, pina.py, torchphysics.py) and the recorded disagreements
(spec/data/provider-disagreements.json, spec/providers/expectations.py).

Runs anywhere: where a library is absent its adapter must be ``unavailable`` with the import error, never raise;
where it is installed (the ``provider-*`` tox envs) it must offer every operator.  The operator claims themselves
run in those envs (``tox -m providers``).
"""

from __future__ import annotations

import importlib.util
import re

import pytest
from packaging.specifiers import SpecifierSet

from spec import providers
from spec.providers import expectations

LIBRARIES = {"deepxde": "deepxde", "pina": "pina", "torchphysics": "torchphysics"}


@pytest.mark.parametrize("name", sorted(LIBRARIES))
def test_an_adapter_loads_and_is_unavailable_with_the_reason_or_offers_every_operator(name):
    p = providers.load(name)
    assert p.name == name and p.protocol == providers.PROTOCOL_VERSION
    if importlib.util.find_spec(LIBRARIES[name]) is None:
        assert p.unavailable and "not importable here" in p.unavailable, p.unavailable
        assert providers.offered(p) == []
    else:
        assert not p.unavailable, p.unavailable
        assert providers.offered(p) == list(providers.OPERATORS)
        assert p.version


def test_an_unavailable_adapter_makes_every_operator_claim_na(tmp_path):
    if importlib.util.find_spec("torchphysics") is not None:
        pytest.skip("torchphysics is installed here")
    from tests.meta.test_providers import pytest_run

    proc = pytest_run("--provider", "torchphysics", "-k", "test_grad_values or test_laplacian_is_the_trace",
                      "--results", str(tmp_path / "r.json"))
    assert proc.returncode == 5, proc.stdout[-2000:]  # everything n/a
    assert "provider torchphysics is unavailable: torchphysics is not importable here" in proc.stdout


REQUIRED = {"id", "provider", "library", "versions", "claims", "failure", "truth", "observed", "ref", "note"}


def test_every_recorded_disagreement_is_complete_and_names_real_claims_and_providers():
    from spec.suite import test_derivative_operators as oper

    claim_ids = {m.args[0] for f in vars(oper).values() if callable(f)
                 for m in getattr(f, "pytestmark", []) if m.name == "claim"}
    entries = expectations.entries()
    assert entries and len({e["id"] for e in entries}) == len(entries)
    for e in entries:
        assert REQUIRED <= set(e), (e["id"], REQUIRED - set(e))
        assert e["provider"] in providers.BUILTINS and e["provider"] in LIBRARIES
        assert set(e["claims"]) <= claim_ids, (e["id"], set(e["claims"]) - claim_ids)
        SpecifierSet(e["versions"])
        re.compile(e["failure"])
        assert e["ref"].startswith(("https://", "none upstream")), e["ref"]


class FakeProvider:
    version = "1.2.0"


@pytest.fixture
def one_entry(monkeypatch):
    entry = {"id": "fake", "provider": "torchphysics", "library": "torchphysics", "versions": ">=1.0,<1.3",
             "claims": ["OPER-004"], "where": {"dtype": ["float64"]}, "failure": "dtype"}
    monkeypatch.setattr(expectations, "entries", lambda: (entry,))
    return entry


def test_a_disagreement_applies_only_within_its_provider_versions_claims_and_parameters(one_entry):
    p = FakeProvider()
    assert expectations.applicable("torchphysics", p, ["OPER-004"], {"dtype": "float64"}) == [one_entry]
    assert expectations.applicable("torchphysics", p, ["OPER-004"], {"dtype": "float32"}) == []
    assert expectations.applicable("torchphysics", p, ["OPER-005"], {"dtype": "float64"}) == []
    assert expectations.applicable("deepxde", p, ["OPER-004"], {"dtype": "float64"}) == []
    p.version = "1.3.0"  # the release that fixed it: out of range
    assert expectations.applicable("torchphysics", p, ["OPER-004"], {"dtype": "float64"}) == []
    p.version = None  # a provider that does not say its library's version: never excused
    assert expectations.applicable("torchphysics", p, ["OPER-004"], {"dtype": "float64"}) == []
