"""Waivers: known failures that do not fail a claim run or the gate, each until a torch release.

A waivers file is TOML, one ``[[waiver]]`` table per waiver (described in ``docs/waivers.md``)::

    [[waiver]]
    claim = "LEAF-004"                  # required: a claim ID of the registry
    device = "cuda"                     # optional: a device, or a list of them
    dtype = ["float16", "bfloat16"]     # optional: a dtype, or a list
    mode = "inductor"                   # optional: an execution mode, or a list
    provider = "..."                    # optional, a future axis: matched against rows that record one
    reason = "why the failure is accepted for now"          # required
    link = "https://github.com/pytorch/pytorch/issues/1"    # required: http(s) URL
    until = "2.16"                      # required: the waiver applies to torch releases < 2.16

``--waivers FILE`` of the claim run (the pytest plugin, so ``autograd-spec run`` too) and of
``autograd-spec diff`` reads it.  Against the rows of a run (for the diff: of NEW), every waiver
gets one status:

- ``applied``: it matched failing tests; they are waived (the exit code is as if they held, and
  the results record them, rows ``waiver``, header ``waivers``);
- ``stale``: every test it matched held again (or the hazard is fixed): remove it;
- ``unverified``: it matched only skipped or n/a tests;
- ``unmatched``: it matched no test at all;
- ``expired``: the torch under test is not older than ``until`` (a nightly is judged as the
  release it leads up to, :func:`spec.versions.release`): it waives nothing and fails the run.

Every problem of the file (TOML syntax, an unknown key, a missing field, a bad version, an unknown
claim ID or axis value) is a :class:`WaiverError` with one line; the run and the diff exit 4.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from spec.errors import read_text

#: The axes a waiver can narrow to, in the order they are shown; ``provider`` is a future axis.
AXES = ("device", "dtype", "mode", "provider")
REQUIRED = ("claim", "reason", "link", "until")
KEYS = ("claim", *AXES, "reason", "link", "until")
STATUSES = ("applied", "stale", "unverified", "unmatched", "expired")


class WaiverError(ValueError):
    """A waivers file that cannot be used, with the reason in one line."""


@dataclasses.dataclass(frozen=True)
class Waiver:
    number: int  # its position in the file, from 1
    claim: str
    axes: dict[str, tuple[str, ...]]  # axis -> the values it matches
    written: dict[str, Any]  # the axes as the file wrote them (a string or a list)
    reason: str
    link: str
    until: str

    def expired(self, torch_version: str) -> bool:
        """Whether ``until`` has come for this torch (its release: ``2.16.0.dev…`` is 2.16.0)."""
        from spec.versions import release

        return release(torch_version) >= Version(self.until)

    def matches(self, claim: str, params: dict[str, Any]) -> bool:
        if self.claim not in str(claim).split(","):
            return False
        return all(axis in params and params[axis] in values for axis, values in self.axes.items())

    def describe(self) -> str:
        """``LEAF-004 device=cuda mode=aot_eager,inductor``."""
        return " ".join([self.claim, *(f"{a}={','.join(v)}" for a, v in self.axes.items())])

    def as_json(self) -> dict[str, Any]:
        return {"number": self.number, "claim": self.claim, **self.written, "reason": self.reason, "link": self.link,
                "until": self.until}


@dataclasses.dataclass(frozen=True)
class WaiverFile:
    path: str
    waivers: tuple[Waiver, ...]


def _toml():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


def load(path: str | Path, registry: dict | None = None) -> WaiverFile:
    """Read and validate a waivers file; every problem is a :class:`WaiverError` naming the file."""
    path = Path(path)
    where = str(path)
    text = read_text(path, f"--waivers {where}", "a TOML file", WaiverError)
    return WaiverFile(where, tuple(parse(text, f"--waivers {where}", registry)))


def parse(text: str, where: str = "waivers", registry: dict | None = None) -> list[Waiver]:
    """The waivers of a TOML text, validated strictly (see the module docstring)."""
    tomllib = _toml()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WaiverError(f"{where}: not valid TOML: {' '.join(str(exc).split())}") from None
    unknown = sorted(set(data) - {"waiver"})
    if unknown:
        raise WaiverError(f"{where}: unknown top-level key {unknown[0]!r}; a waivers file holds [[waiver]] tables only")
    tables = data.get("waiver", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise WaiverError(f"{where}: 'waiver' must be an array of tables: write each one as [[waiver]]")
    if registry is None:
        from spec.claims import registry as load_registry

        registry = load_registry()
    out: list[Waiver] = []
    seen: dict[tuple, int] = {}
    for number, table in enumerate(tables, 1):
        waiver = _waiver(number, table, f"{where}: waiver {number}", registry)
        key = (waiver.claim, tuple(sorted(waiver.axes.items())))
        if key in seen:
            raise WaiverError(f"{where}: waiver {number} ({waiver.describe()}) repeats waiver {seen[key]}")
        seen[key] = number
        out.append(waiver)
    return out


def _allowed(axis: str) -> tuple[str, ...] | None:
    from spec.devices import KNOWN_DEVICES
    from spec.modes import MODE_NAMES
    from spec.precision import DTYPE_NAMES

    return {"device": KNOWN_DEVICES, "dtype": DTYPE_NAMES, "mode": MODE_NAMES}.get(axis)


def _text(table: dict, key: str, where: str) -> str:
    value = table.get(key)
    if value is None:
        raise WaiverError(f"{where}: {key} is missing (every waiver needs {', '.join(REQUIRED)})")
    if not isinstance(value, str):
        raise WaiverError(f"{where}: {key} must be a quoted string, not {value!r}")
    if not value.strip():
        raise WaiverError(f"{where}: {key} must not be empty")
    return value.strip()


def _waiver(number: int, table: dict, where: str, registry: dict) -> Waiver:
    from spec.claims import ClaimError, resolve_ids

    named = table.get("claim")
    if isinstance(named, str) and named.strip():
        where = f"{where} ({named.strip()})"
    unknown = [k for k in table if k not in KEYS]
    if unknown:
        raise WaiverError(f"{where}: unknown key {unknown[0]!r}; a waiver has {', '.join(KEYS)}")
    claim_text = _text(table, "claim", where)
    try:
        (claim,) = resolve_ids([claim_text], registry)
    except (ClaimError, ValueError) as exc:
        raise WaiverError(f"{where}: {' '.join(str(exc).split())}") from None
    reason, link, until = (_text(table, key, where) for key in ("reason", "link", "until"))
    if not link.startswith(("https://", "http://")):
        raise WaiverError(f"{where}: link must be an http(s) URL (the issue or PR behind the waiver), not {link!r}")
    try:
        version = Version(until)
    except InvalidVersion:
        raise WaiverError(f"{where}: until {until!r} is not a version; write a torch release like \"2.16\"") from None
    if version.is_prerelease or version.is_postrelease or version.local:
        raise WaiverError(f"{where}: until {until!r} must be a release like \"2.16\" (no pre, dev, post or local part)")
    axes: dict[str, tuple[str, ...]] = {}
    written: dict[str, Any] = {}
    for axis in AXES:
        if axis not in table:
            continue
        value = table[axis]
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            raise WaiverError(f"{where}: {axis} must be a name or a non-empty list of names, not {value!r}")
        allowed = _allowed(axis)
        bad = [v for v in values if allowed is not None and v not in allowed]
        if bad:
            raise WaiverError(f"{where}: unknown {axis} {bad[0]!r}; known: {', '.join(allowed)}")
        axes[axis] = tuple(dict.fromkeys(values))
        written[axis] = value
    return Waiver(number, claim, axes, written, reason, link, until)


# --------------------------------------------------------------------------- applying to a run


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


@dataclasses.dataclass
class Applied:
    """The waivers of one file against the rows of one run (of one torch)."""

    file: WaiverFile
    torch: str
    statuses: dict[int, str]  # waiver number -> status
    tests: dict[int, list[str]]  # waiver number -> the node IDs it matched
    waived: dict[str, int]  # node ID -> the number of the waiver that waived its failure

    def of(self, status: str) -> list[Waiver]:
        return [w for w in self.file.waivers if self.statuses[w.number] == status]

    @property
    def expired(self) -> list[Waiver]:
        return self.of("expired")

    def waived_claims(self) -> list[str]:
        numbers = set(self.waived.values())
        return list(dict.fromkeys(w.claim for w in self.file.waivers if w.number in numbers))

    def as_json(self) -> dict[str, Any]:
        """The results header's ``waivers`` (and the diff's): the file, the torch, every waiver with its status."""
        entries = []
        for w in self.file.waivers:
            entry = w.as_json()
            entry.update(status=self.statuses[w.number], tests=self.tests[w.number],
                         waived=sorted(n for n, k in self.waived.items() if k == w.number))
            entries.append(entry)
        return {"file": self.file.path, "torch": self.torch, "entries": entries}


def apply(rows: list[Any], file: WaiverFile, torch_version: str) -> Applied:
    """Match every waiver against ``rows`` (results rows, or :class:`spec.aggregate.Row`).

    A failing row (outcome in :data:`spec.outcomes.BROKEN`) matched by a waiver that has not
    expired is waived by the first such waiver of the file.  Rows that are dicts get
    ``row["waiver"]``: the index of that waiver in ``Applied.as_json()["entries"]``.
    """
    from spec import outcomes as outcomes_mod

    statuses: dict[int, str] = {}
    tests: dict[int, list[str]] = {}
    waived: dict[str, int] = {}
    index = {w.number: i for i, w in enumerate(file.waivers)}
    for w in file.waivers:
        matched = [r for r in rows if w.matches(_get(r, "claim"), _get(r, "params") or {})]
        tests[w.number] = sorted(_get(r, "nodeid") for r in matched)
        outcomes = {_get(r, "outcome") for r in matched}
        if w.expired(torch_version):
            statuses[w.number] = "expired"
            continue
        if outcomes & outcomes_mod.BROKEN:
            statuses[w.number] = "applied"
            for r in matched:
                if _get(r, "outcome") in outcomes_mod.BROKEN and _get(r, "nodeid") not in waived:
                    waived[_get(r, "nodeid")] = w.number
                    if isinstance(r, dict):
                        r["waiver"] = index[w.number]
        elif outcomes & (outcomes_mod.HELD | outcomes_mod.FIXED):
            statuses[w.number] = "stale"
        elif matched:
            statuses[w.number] = "unverified"
        else:
            statuses[w.number] = "unmatched"
    return Applied(file, torch_version, statuses, tests, waived)


def held_outcomes(rows: list[dict[str, Any]]) -> list[str]:
    """The rows' outcomes for the run's exit code: a waived failure counts as held."""
    return ["passed" if row.get("waiver") is not None else row["outcome"] for row in rows]


def annotate(doc: dict[str, Any], applied: Applied) -> dict[str, Any]:
    """The results document with the header field ``waivers`` (before ``claims``)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key == "claims":
            out["waivers"] = applied.as_json()
        out[key] = value
    out.setdefault("waivers", applied.as_json())
    return out


# --------------------------------------------------------------------------- reporting


_WORD = {"applied": "WAIVED", "stale": "STALE", "unverified": "UNVERIFIED", "unmatched": "UNMATCHED", "expired": "EXPIRED"}


def _describe(entry: dict[str, Any]) -> str:
    axes = [f"{a}={v if isinstance(v, str) else ','.join(v)}" for a in AXES if (v := entry.get(a)) is not None]
    return " ".join([entry["claim"], *axes])


def entry_line(entry: dict[str, Any], torch: str) -> str:
    """One line per waiver: what it did to this run, and what to do about it."""
    status, n, what = entry["status"], entry["number"], _describe(entry)
    head = f"{_WORD[status]:<10} {what} (waiver {n}, until torch {entry['until']})"
    if status == "applied":
        return f"{head}: {len(entry['waived'])} failing test(s) waived: {entry['reason']} <{entry['link']}>"
    if status == "stale":
        return f"{head}: every test it matches holds ({len(entry['tests'])} matched): remove the waiver"
    if status == "unverified":
        return f"{head}: the {len(entry['tests'])} test(s) it matches were skipped or n/a: nothing to waive here"
    if status == "unmatched":
        return f"{head}: no test of this run matches it"
    return (f"{head}: torch {torch} is not older than {entry['until']}: the waiver has expired and fails the run; "
            "fix the claim, or extend until with a reason")


def report_lines(applied: dict[str, Any]) -> list[str]:
    """The waivers block of the claim report and of the text diff (from :meth:`Applied.as_json`)."""
    lines = [f"waivers ({applied['file']}; torch {applied['torch']}):"]
    lines += [f"  {entry_line(e, applied['torch'])}" for e in applied["entries"]]
    if not applied["entries"]:
        lines[0] += " none"
    return lines


def expired_line(applied: dict[str, Any]) -> str | None:
    expired = [e for e in applied["entries"] if e["status"] == "expired"]
    if not expired:
        return None
    what = "; ".join(f"waiver {e['number']} ({_describe(e)}, until {e['until']})" for e in expired)
    return f"{len(expired)} expired waiver(s) for torch {applied['torch']}: {what}"


def markdown_lines(applied: dict[str, Any]) -> list[str]:
    """The waivers as a Markdown table (the diff's job summary)."""
    from spec.render import md_code

    lines = ["", f"**Waivers** ({md_code(applied['file'])}, for torch {applied['torch']}):", "",
             "| waiver | status | tests | until | reason |", "|---|---|---|---|---|"]
    for e in applied["entries"]:
        tests = f"{len(e['waived'])} waived" if e["status"] == "applied" else f"{len(e['tests'])} matched"
        lines.append(f"| {e['number']}: {md_code(_describe(e))} | {_WORD[e['status']].lower()} | {tests} | "
                     f"{e['until']} | [{' '.join(e['reason'].split()).replace('|', '/')}]({e['link']}) |")
    return lines


# --------------------------------------------------------------------------- the diff


def apply_to_diff(report: dict[str, Any], new: Any, file: WaiverFile) -> None:
    """Waive the diff's regressions that waivers cover in NEW, in place.

    A regression cell (claim, device, mode) is waived when every failing NEW row in it is waived;
    a claim all of whose regression cells are waived leaves ``regressions`` for ``waived``.  The
    waivers' statuses for NEW's torch go into ``report["waivers"]``; an expired one fails the gate.
    """
    from spec import outcomes as outcomes_mod

    applied = apply(new.rows, file, new.release)
    report["waivers"] = applied.as_json()
    report["waived"] = []
    for entry in report["changed_claims"]:
        entry["waived"] = []
        keep = []
        for cell in entry["regressions"]:
            failing = [r for r in new.rows if entry["claim"] in r.claim.split(",") and r.device == cell["device"]
                       and r.mode == cell["mode"] and r.outcome in outcomes_mod.BROKEN]
            (entry["waived"] if failing and all(r.nodeid in applied.waived for r in failing) else keep).append(cell)
        entry["regressions"] = keep
        if entry["waived"] and not keep and entry["claim"] in report["regressions"]:
            report["regressions"].remove(entry["claim"])
            report["waived"].append(entry["claim"])


def expired_in(report: dict[str, Any]) -> str | None:
    """The diff's expired waivers in one line, or None."""
    return expired_line(report["waivers"]) if report.get("waivers") else None
