"""The results file: what one run of the claims observed, as JSON.

The schema is documented in ``docs/results-schema.md``.  Loading validates the
document and turns every problem into a :class:`ResultsError` with one clear line.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from pathlib import Path
from typing import Any

SCHEMA = "autograd-spec/results"
SCHEMA_VERSION = 1
OUTCOMES = ("passed", "failed", "skipped", "error", "xfailed", "xpassed", "n/a", "fixed")
#: Test outcomes under which a claim holds, and under which it is broken.
HELD = frozenset({"passed", "xfailed"})
BROKEN = frozenset({"failed", "error", "xpassed"})


class ResultsError(ValueError):
    """A results file or folder that cannot be used, with the reason."""


def torch_info() -> dict[str, Any]:
    import torch

    from spec.versions import build_tag, is_recorded, release

    version = str(torch.__version__)
    return {
        "version": version,
        "release": str(release(version)),
        "build": build_tag(version) or ("cpu" if torch.version.cuda is None else "cuda"),
        "cuda": torch.version.cuda,
        "git": getattr(torch.version, "git_version", None),
        "recorded": is_recorded(version),
    }


def build(
    *,
    rows: list[dict[str, Any]],
    registry: dict,
    devices: dict,
    selection: dict[str, Any],
    exitstatus: int,
    wall: float,
    modes: dict | None = None,
    import_warnings: list[str] | None = None,
) -> dict[str, Any]:
    from spec import __version__

    claim_ids = sorted({row["claim"] for row in rows}, key=lambda c: list(registry).index(c) if c in registry else 10**6)
    claims = {}
    for cid in claim_ids:
        c = registry.get(cid)
        claims[cid] = (
            {"statement": c.statement, "section": c.section, "kind": c.kind, "ref": c.ref}
            if c
            else {"statement": None, "section": None, "kind": "rule", "ref": None}
        )
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "suite_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "label": os.environ.get("SPEC_RESULTS_LABEL") or None,
        "torch": torch_info(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "devices": {name: info.as_json() for name, info in devices.items()},
        "modes": {name: info.as_json() for name, info in (modes or {}).items()},
        "import_warnings": list(import_warnings or []),
        "selection": selection,
        "exitstatus": exitstatus,
        "wall_seconds": round(wall, 3),
        "claims": claims,
        "tests": sorted(rows, key=lambda r: r["nodeid"]),
    }


def write(doc: dict[str, Any], path: str | os.PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate one results file."""
    path = Path(path)
    if not path.exists():
        raise ResultsError(f"{path}: no such file")
    if path.is_dir():
        raise ResultsError(f"{path}: is a folder, expected a results file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.__class__.__name__}: {exc})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not a results file (invalid JSON: {exc.msg} at line {exc.lineno})") from None
    validate(doc, str(path))
    doc["_path"] = str(path)
    return doc


def validate(doc: Any, where: str) -> None:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ResultsError(f"{where}: not an autograd-spec results file (no \"schema\": \"{SCHEMA}\")")
    version = doc.get("schema_version")
    if not isinstance(version, int):
        raise ResultsError(f"{where}: schema_version is missing or not an integer")
    if version > SCHEMA_VERSION:
        raise ResultsError(
            f"{where}: schema version {version} is newer than this autograd-spec understands ({SCHEMA_VERSION}); upgrade it"
        )
    for key in ("torch", "devices", "claims", "tests"):
        if key not in doc:
            raise ResultsError(f"{where}: results file lacks {key!r}")
    if not isinstance(doc["tests"], list):
        raise ResultsError(f"{where}: 'tests' must be a list")
    for i, row in enumerate(doc["tests"]):
        if not isinstance(row, dict) or not {"nodeid", "claim", "params", "outcome"} <= set(row):
            raise ResultsError(f"{where}: test entry {i} lacks nodeid, claim, params or outcome")
        if row["outcome"] not in OUTCOMES:
            raise ResultsError(f"{where}: test entry {i} has unknown outcome {row['outcome']!r}")


def load_many(paths: list[str | os.PathLike]) -> list[dict[str, Any]]:
    """Load results from files and folders (a folder contributes every ``*.json`` in it)."""
    docs = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files = sorted(f for f in p.glob("*.json") if f.is_file())
            if not files:
                raise ResultsError(f"{p}: folder holds no results files (*.json)")
            docs.extend(load(f) for f in files)
        else:
            docs.append(load(p))
    if not docs:
        raise ResultsError("no results files given")
    return docs


def outcome_counts(rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    """How many of the rows held, broke, and were skipped."""
    held = sum(r["outcome"] in HELD for r in rows)
    broken = sum(r["outcome"] in BROKEN for r in rows)
    return held, broken, len(rows) - held - broken


def claim_outcome(rows: list[dict[str, Any]]) -> str:
    """One claim's outcome over its test rows: fail beats pass beats skip."""
    held, broken, _ = outcome_counts(rows)
    if broken:
        return "fail"
    if held:
        return "pass"
    return "skip"


