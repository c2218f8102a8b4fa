"""Known disagreements of a provider's library with the operator claims, recorded like hazards.

A derivative provider that adapts a PINN library (DeepXDE, PINA, torchphysics) calls the library faithfully: where
the library gives a wrong value, a wrong dtype or an error where the claim demands a value, the adapter does not
fix it.  The disagreement is recorded in ``spec/data/provider-disagreements.json``, one entry each::

    {"id": "torchphysics-laplacian-dtype", "provider": "torchphysics", "library": "torchphysics",
     "versions": ">=1.0",                      # packaging specifier on the library's version
     "claims": ["OPER-004", ...],              # the claims it breaks
     "where": {"dtype": ["float64"], "op": ["laplacian"]},   # test parameters it is limited to (absent: all)
     "failure": "dtype: expected torch.float64, observed torch.float32",   # regex on the failed check's message
     "truth": "...", "observed": "...", "ref": "upstream issue URL, or 'none upstream (searched ...)'",
     "note": "..."}

While the disagreement holds (a test in its scope fails a recorded check whose message matches ``failure``) the
test passes and records it as a hazard does: an observation whose expected value is ``{"hazard": observed,
"truth": truth, "present": true}`` with the provider, library, version and ref, so the book and the matrix show
it.  A test in its scope that passes means the library fixed it: the test ends as a fixed hazard ("disagreement
fixed in <library> <version>"), exit status 6, until the entry's ``versions`` is narrowed.  A failure that does
not match ``failure`` stays a failure.  The hook is :func:`pytest_pyfunc_call`, which ``spec/suite/conftest.py``
imports.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

import pytest

FILE = "provider-disagreements.json"


@functools.lru_cache(maxsize=1)
def entries() -> tuple[dict[str, Any], ...]:
    """Every recorded disagreement (the data file's ``disagreements`` list)."""
    text = resources.files("spec").joinpath("data", FILE).read_text(encoding="utf-8")
    return tuple(json.loads(text)["disagreements"])


def library_version(provider: Any) -> str | None:
    return getattr(provider, "version", None)


def in_range(version: str | None, spec: str) -> bool:
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    if version is None:
        return False
    try:
        return Version(version) in SpecifierSet(spec, prereleases=True)
    except InvalidVersion:
        return False


def applicable(name: str, provider: Any, claim_ids: list[str], params: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries whose scope holds this test: its provider, library version, claim and parameters."""
    out = []
    for e in entries():
        if e["provider"] != name or not set(e["claims"]) & set(claim_ids):
            continue
        if not in_range(library_version(provider), e["versions"]):
            continue
        if all(str(params.get(k)) in [str(v) for v in allowed] for k, allowed in e.get("where", {}).items()
               if k in params):
            out.append(e)
    return out


def _params(item: pytest.Item) -> dict[str, Any]:
    from spec.plugin import params_of

    return params_of(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function):
    """Turn a recorded disagreement into a hazard-like pass, and its absence into a fixed hazard."""
    name = pyfuncitem.funcargs.get("provider") if hasattr(pyfuncitem, "funcargs") else None
    outcome = yield
    if not isinstance(name, str):
        return
    from spec import providers
    from spec.check import ClaimCheckFailed, HazardFixed, NotApplicable
    from spec.plugin import claim_ids_of

    try:
        provider = providers.load(name)
    except providers.ProviderError:
        return
    scope = applicable(name, provider, claim_ids_of(pyfuncitem), _params(pyfuncitem))
    if not scope:
        return
    check = pyfuncitem.funcargs.get("check")
    exc = outcome.excinfo[1] if outcome.excinfo else None
    version = library_version(provider)
    if exc is None:
        e = scope[0]
        outcome.force_exception(HazardFixed(
            f"disagreement fixed in {e['library']} {version}: {e['id']} ({e['observed']}) no longer shows; narrow its "
            f"versions in spec/data/{FILE}", e["id"]))
        return
    if isinstance(exc, (HazardFixed, NotApplicable)) or not isinstance(exc, ClaimCheckFailed):
        return
    message = str(exc)
    match = next((e for e in scope if re.search(e["failure"], message)), None)
    if match is None or check is None:
        return
    if check.observations and not check.observations[-1]["ok"]:
        check.observations.pop()  # the failed check, replaced by the disagreement that explains it
    check.observations.append({
        "name": f"disagreement {match['id']}: {getattr(exc, 'observable', None) or match['id']}",
        "observed": message.splitlines()[0],
        "expected": {"hazard": match["observed"], "truth": match["truth"], "present": True},
        "ok": True, "hazard": "present", "provider": name, "library": match["library"], "library_version": version,
        "versions": match["versions"], "ref": match["ref"],
    })
    check.flush()
    outcome.force_result(True)
