"""The results file: what one run of the claims observed, as JSON.

The schema (version 2) is the JSON Schema ``spec/schemas/results-v2.json``, documented in
``docs/results-schema.md``.  Loading validates every document against it (with ``jsonschema``)
and turns every problem into a :class:`ResultsError` with one clear line.  Version 1 documents
(written before execution modes, hazards and n/a existed) are upgraded in memory on load:
see :func:`upgrade_v1`; call outcomes that older version 2 documents recorded as strings are read
as the structured outcomes recorded today: see :func:`structure_outcomes`.
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import os
import platform
from pathlib import Path
from typing import Any

from spec.errors import read_text
from spec.normalize import normalize_document
from spec.outcomes import UNVERIFIED

SCHEMA = "autograd-spec/results"
SCHEMA_VERSION = 2
SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / f"results-v{SCHEMA_VERSION}.json"


#: What a call did, in an observation of :meth:`spec.check.Check.call`: ``{"outcome": "returned"}``, or
#: ``{"outcome": "raised", "type": ..., "message": ...}``; its expectation ``{"outcome": "returned"}`` or
#: ``{"outcome": "raised", "matches": regex}`` (the regex is searched in ``"Type: message"``).
RETURNED = "returned"
RAISED = "raised"
#: Observations that recorded a call's outcome as a string ("returned", "Type: message") before outcomes were
#: structured (suite 0.1.0, the committed results): (claim, observation name).  :func:`structure_outcomes`
#: reads them as the structured outcome they stand for.
STRING_OUTCOMES = frozenset({
    ("COMP-005", "y.backward() a second time"),
    ("COMP-009", "d2y/dx2"),
    ("COMP-010", "u_xx"),
    ("COMP-011", "f(x) with fullgraph=True"),
    ("COMP-015", "torch.func.grad_and_value(loss) compiled with fullgraph=True"),
})


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
    # Recorded without the form of this machine (paths, pytest's frames, Python's decoration): see spec.normalize.
    return normalize_document({
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
    })


def write(doc: dict[str, Any], path: str | os.PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def load(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate one results file (a version 1 file is upgraded to version 2 in memory).

    A file loaded before, unchanged since, is not validated again: the document returned is
    the same object, so treat it as read-only.
    """
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None
    if key is not None and key in _LOADED:
        return _LOADED[key]
    doc = _load(path)
    if key is not None:
        _LOADED[key] = doc
    return doc


_LOADED: dict[tuple[str, int, int], dict[str, Any]] = {}


def _load(path: Path) -> dict[str, Any]:
    text = read_text(path, str(path), "a results file", ResultsError)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not a results file (invalid JSON: {exc.msg} at line {exc.lineno})") from None
    doc = validate(doc, str(path))
    doc["_path"] = str(path)
    return doc


@functools.cache
def _validator():
    import jsonschema

    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _where(path: list) -> str:
    parts: list[str] = []
    for p in path:
        parts.append(f"[{p}]" if isinstance(p, int) else (f".{p}" if parts else str(p)))
    return "".join(parts) or "the document"


#: Schema keywords under which a value's skeleton (see :func:`skeleton`) is as valid as the value.
_SKELETON_SAFE = frozenset({"type", "properties", "required", "items", "$ref", "title", "description", "$comment", "minLength"})


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    while isinstance(schema, dict) and set(schema) == {"$ref"} and schema["$ref"].startswith("#/"):
        node: Any = root
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        schema = node
    return schema


def skeleton(value: Any, schema: Any, root: dict[str, Any]) -> Any:
    """``value`` reduced to what ``schema`` can tell apart: valid exactly when ``value`` is.

    Where the schema only asks for types, required keys and a minimum length of at most 1, a
    string becomes ``"s"`` or ``""``, a number ``0``, ``0.0`` or ``0.5`` (integral or not), keys the
    schema does not name are left out and repeated list items kept once.  Under any other keyword
    (enum, pattern, const, additionalProperties ...) the value is kept as it is.  Rows of one run
    have few distinct skeletons, so validating those is validating the rows, many times faster.
    """
    schema = _resolve(schema, root)
    if schema is True or schema == {}:
        return None
    if not isinstance(schema, dict) or not set(schema) <= _SKELETON_SAFE or schema.get("minLength", 0) > 1:
        return value
    if isinstance(value, dict):
        props = schema.get("properties", {})
        keep = set(props) | set(schema.get("required", ()))
        return {k: skeleton(v, props.get(k, True), root) for k, v in value.items() if k in keep}
    if isinstance(value, list):
        out, seen = [], set()
        for item in value:
            sk = skeleton(item, schema.get("items", True), root)
            key = json.dumps(sk, sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append(sk)
        return out
    if isinstance(value, str):
        return "s" if value else ""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return 0
    if isinstance(value, float):
        return 0.0 if value == int(value) else 0.5
    return value


def _first_error(doc: dict[str, Any]):
    return next(iter(sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))), None)


def _skeleton_rows(doc: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """``doc`` with its rows replaced by their distinct skeletons, and the first row of each."""
    root = _validator().schema
    tests = doc.get("tests")
    if not isinstance(tests, list) or not set(root["properties"]["tests"]) <= _SKELETON_SAFE:
        return doc, list(range(len(tests) if isinstance(tests, list) else 0))
    item_schema = root["properties"]["tests"].get("items", True)
    distinct: dict[str, int] = {}
    rows, first = [], []
    for i, row in enumerate(tests):
        sk = skeleton(row, item_schema, root)
        key = json.dumps(sk, sort_keys=True)
        if key not in distinct:
            distinct[key] = len(rows)
            rows.append(sk)
            first.append(i)
    return dict(doc, tests=rows), first


def validate(doc: Any, where: str) -> dict[str, Any]:
    """Check ``doc`` against the schema; returns it as version 2 (upgrading a version 1 document)."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ResultsError(f"{where}: not an autograd-spec results file (no \"schema\": \"{SCHEMA}\")")
    version = doc.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ResultsError(f"{where}: schema_version is missing or not an integer")
    if version > SCHEMA_VERSION:
        raise ResultsError(
            f"{where}: schema version {version} is newer than this autograd-spec understands ({SCHEMA_VERSION}); upgrade it"
        )
    if version < 1:
        raise ResultsError(f"{where}: schema version {version} does not exist")
    if version == 1:
        for key in ("torch", "devices", "claims", "tests"):
            if key not in doc:
                raise ResultsError(f"{where}: results file lacks {key!r}")
        if not isinstance(doc["tests"], list) or not all(isinstance(r, dict) for r in doc["tests"]):
            raise ResultsError(f"{where}: 'tests' must be a list of objects")
        doc = upgrade_v1(doc)
    checked, first_row = _skeleton_rows(doc)
    error = _first_error(checked)
    if error is not None:
        path = list(error.absolute_path)
        if len(path) > 1 and path[0] == "tests" and isinstance(path[1], int):
            row = first_row[path[1]]  # the row itself says what is wrong, in its own words
            error = _first_error(dict(checked, tests=[doc["tests"][row]])) or error
            path = list(error.absolute_path)
            path[1] = row
        message = error.message if len(error.message) <= 200 else error.message[:200] + "…"
        raise ResultsError(f"{where}: not a valid results file (schema v{SCHEMA_VERSION}): at {_where(path)}: {message}")
    absent = {name for name, info in doc["devices"].items() if not info["present"]}
    for i, row in enumerate(doc["tests"]):
        if row["outcome"] in UNVERIFIED and not isinstance(row["reason"], str):
            raise ResultsError(f"{where}: test entry {i} ({row['nodeid']}) is {row['outcome']} without a reason")
        if row["params"].get("device") in absent:
            raise ResultsError(
                f"{where}: test entry {i} ({row['nodeid']}) runs on {row['params']['device']}, which the header says is absent"
            )
    return normalize_document(structure_outcomes(doc))


def is_call_outcome(value: Any) -> bool:
    """Whether an observed or expected value is a call's outcome (see :data:`RETURNED`)."""
    return isinstance(value, dict) and value.get("outcome") in (RETURNED, RAISED) and set(value) <= {
        "outcome", "type", "message", "matches"}


def call_outcome_text(outcome: dict[str, Any]) -> str:
    """A call's outcome as text: ``"returned"``, or ``"Type: message"`` (what an expected pattern is searched in)."""
    if outcome.get("outcome") == RAISED:
        return f"{outcome.get('type')}: {outcome.get('message')}"
    return str(outcome.get("outcome"))


def structure_outcomes(doc: dict[str, Any]) -> dict[str, Any]:
    """Read the call outcomes that older results recorded as strings (:data:`STRING_OUTCOMES`) as structured ones.

    Observed ``"returned"`` becomes ``{"outcome": "returned"}`` and ``"Type: message"`` becomes ``{"outcome":
    "raised", "type": "Type", "message": "message"}``; expected ``"returned"`` (or the pattern ``"returned"``)
    becomes ``{"outcome": "returned"}`` and ``{"matches": regex}`` becomes ``{"outcome": "raised", "matches":
    regex}``: what :meth:`spec.check.Check.call` records for the same call today, so that no reader reports a
    change between the two.  Structured values are left as they are; the document is changed in place.
    """
    for row in doc["tests"]:
        for ob in row["observations"]:
            if (row["claim"], ob.get("name")) not in STRING_OUTCOMES or not isinstance(ob.get("observed"), str):
                continue
            kind, sep, message = ob["observed"].partition(": ")
            if ob["observed"] == RETURNED:
                ob["observed"] = {"outcome": RETURNED}
            elif sep:
                ob["observed"] = {"outcome": RAISED, "type": kind, "message": message}
            else:
                continue  # not an outcome after all: left as it was recorded
            expected = ob.get("expected")
            pattern = expected.get("matches") if isinstance(expected, dict) and set(expected) == {"matches"} else None
            if expected == RETURNED or pattern == RETURNED:
                ob["expected"] = {"outcome": RETURNED}
            elif isinstance(pattern, str):
                ob["expected"] = {"outcome": RAISED, "matches": pattern}
    return doc


def upgrade_v1(doc: dict[str, Any]) -> dict[str, Any]:
    """A schema version 1 document as version 2, in memory.

    Version 1 knew neither execution modes, hazards, n/a nor the failure kind, and wrote a
    skipped row for every test of an absent device.  The upgrade drops the rows of devices the
    header says are absent (their absence stays recorded once, in ``devices``), gives every row
    ``mode: "eager"`` (the only mode there was), the claim's kind from the registry (``"rule"``
    for claims it does not know) and ``failure: null``, and fills the header fields version 2
    added (``modes``: eager only; ``import_warnings``: none; ``selection.partial`` from the
    selection).  Nothing is written back.
    """
    try:
        from spec.claims import registry

        known = registry()
    except Exception:  # noqa: BLE001 - a broken suite must not make old results unreadable
        known = {}
    doc = dict(doc)
    devices = doc.get("devices") if isinstance(doc.get("devices"), dict) else {}
    absent = {name for name, info in devices.items() if isinstance(info, dict) and info.get("present") is False}
    rows = []
    for row in doc["tests"]:
        params = dict(row.get("params") or {}) if isinstance(row.get("params"), dict) else row.get("params")
        if isinstance(params, dict):
            if params.get("device") in absent:
                continue
            params.setdefault("mode", "eager")
        claim_id = row.get("claim")
        new = {
            "nodeid": row.get("nodeid"),
            "claim": claim_id,
            "kind": known[claim_id].kind if claim_id in known else "rule",
            "params": params,
            "outcome": row.get("outcome"),
            "reason": row.get("reason"),
            "message": row.get("message"),
            "failure": None,
            "duration": row.get("duration", 0.0),
            "observations": row.get("observations") or [],
            "expectations": row.get("expectations") or [],
        }
        if new["outcome"] == "skipped" and new["reason"] is None:
            new["reason"] = "no reason given"
        rows.append(new)
    doc["tests"] = rows
    claims = {}
    for cid, meta in (doc.get("claims") or {}).items():
        meta = dict(meta) if isinstance(meta, dict) else {}
        c = known.get(cid)
        claims[cid] = {
            "statement": meta.get("statement"),
            "section": meta.get("section"),
            "kind": meta.get("kind") or (c.kind if c else "rule"),
            "ref": meta.get("ref", c.ref if c else None),
        }
    doc["claims"] = claims
    doc.setdefault("python", "?")
    doc.setdefault("platform", "?")
    doc["modes"] = {"eager": {"available": True, "detail": "schema v1: every test ran eagerly"}}
    doc.setdefault("import_warnings", [])
    selection = dict(doc.get("selection") or {})
    selection.setdefault("modes", None)
    selection.setdefault("partial", bool(selection.get("claims") or selection.get("dtypes")))
    doc["selection"] = selection
    doc["schema_version"] = SCHEMA_VERSION
    doc["_upgraded_from"] = 1
    return doc


def is_partial(doc: dict[str, Any]) -> bool:
    """Whether a run selected less than the whole suite (--claim, --dtype, -k, a node ID ...)."""
    selection = doc.get("selection") or {}
    if "partial" in selection:
        return bool(selection["partial"])
    return any(selection.get(k) for k in ("claims", "dtypes"))


def results_files(path: Path, recursive: bool = False) -> list[Path]:
    """The ``*.json`` files of a folder, sorted (``recursive``: in its subfolders too)."""
    pattern = "**/*.json" if recursive else "*.json"
    return sorted(f for f in path.glob(pattern) if f.is_file())


def load_many(paths: list[str | os.PathLike], recursive: bool = False) -> list[dict[str, Any]]:
    """Load results from files and folders (a folder contributes every ``*.json`` in it)."""
    docs = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files = results_files(p, recursive)
            if not files:
                raise ResultsError(f"{p}: folder holds no results files (*.json)")
            docs.extend(load(f) for f in files)
        else:
            docs.append(load(p))
    if not docs:
        raise ResultsError("no results files given")
    return docs

