"""The one aggregation of results: runs -> cells -> statuses -> changes.

Every reader of results (the claim report at the end of a run, ``spec matrix``, ``spec docs``,
``spec diff`` and ``spec merge``) builds an :class:`Aggregate` and only renders it:

- a **run** is one results document (or, for the diff, every document of one side), ordered
  by its torch release as a :class:`packaging.version.Version`;
- a **cell** is what one claim did in one run, on one device, in one execution mode.  A claim
  whose tests have no device parameter is in the device :data:`ANY_DEVICE` (never copied to
  every device); a device absent from a run has no rows there (its absence is in the run's header);
- a **status** sums up rows: ``pass``, ``fail``, ``fixed`` (a hazard's wrong value is gone:
  welcome, not a failure), ``n/a`` (the feature does not exist in that torch; never a pass),
  ``skip`` and ``not run``.  Outcomes, their groups, and the statuses with their words, symbols
  and order are defined once, in :mod:`spec.outcomes`; rows are counted once, by :class:`Tally`;
- a **change** is a recorded behaviour change, the registry's :class:`spec.versions.Versioned`
  (a ``by_version`` declaration): it happened at the recorded versions its ``changed_in``
  names, and nowhere else.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from spec.outcomes import BROKEN, FIXED, HELD, STATUSES, UNVERIFIED, VERIFIED, Status, status_of
from spec.results import ResultsError, call_outcome_text, is_call_outcome, is_partial
from spec.versions import Versioned

ANY_DEVICE = "any device"
CHANGED_MARK = "🔄"
MUTANTS_FILE = Path(__file__).resolve().parent / "data" / "mutants.json"


# --------------------------------------------------------------------------- counting


@dataclasses.dataclass(frozen=True)
class Tally:
    """How many rows ended in each outcome and outcome group: the one place outcomes are counted."""

    n: Counter

    @classmethod
    def of(cls, outcomes: Iterable[str]) -> Tally:
        return cls(Counter(outcomes))

    def __getitem__(self, outcome: str) -> int:
        return self.n[outcome]

    @property
    def total(self) -> int:
        return sum(self.n.values())

    @property
    def held(self) -> int:
        return sum(self.n[o] for o in HELD)

    @property
    def broken(self) -> int:
        return sum(self.n[o] for o in BROKEN)

    @property
    def fixed(self) -> int:
        return sum(self.n[o] for o in FIXED)

    @property
    def verified(self) -> int:
        return sum(self.n[o] for o in VERIFIED)

    @property
    def status(self) -> str:
        return status_of(o for o, k in self.n.items() if k)


def first_line(text: Any) -> str:
    """The first non-empty line of a message, stripped ("" for none)."""
    for line in str(text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def version_key(text: Any) -> tuple:
    """Versions ordered as versions ("2.10.0" after "2.9.1"); anything else after them, as text."""
    try:
        return (0, Version(str(text)), "")
    except InvalidVersion:
        return (1, Version("0"), str(text))


# --------------------------------------------------------------------------- values


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def format_value(value: Any, expected: bool = False) -> str:
    """An observed or expected value, compactly, in Python notation, independently of dtype and memory addresses."""
    if is_call_outcome(value):  # what a call did: "returned", "Type: message"; expected: "text matching ..."
        if "matches" in value:
            return f"text matching {value['matches']}"
        return _ADDRESS.sub("", call_outcome_text(value))
    if isinstance(value, dict):
        if set(value) == {"type", "message"}:
            sep = " matching " if expected else ": "
            return _ADDRESS.sub("", f"{value['type']}{sep}{value['message']}")
        if {"category", "message"} <= set(value) <= {"category", "message", "count"}:
            sep = " matching " if expected else ": "
            count = f" (x{value['count']})" if value.get("count") not in (None, 1) else ""
            return _ADDRESS.sub("", f"{value['category']}{sep}{value['message']}{count}")
        if set(value) == {"matches"}:
            return f"text matching {value['matches']}"
        if "tensor" in value:
            shape = value.get("shape")
            text = repr(value["tensor"])
            return f"tensor {text}" + (f" (shape {list(shape)})" if shape not in (None, []) else "")
        if is_hazard_expectation(value):
            return f"the hazard's {format_value(value['hazard'])} (truth: {format_value(value['truth'])})"
    if isinstance(value, list) and value and all(isinstance(v, dict) and "category" in v for v in value):
        return " | ".join(format_value(v, expected) for v in value)
    if isinstance(value, str):
        return _ADDRESS.sub("", value)
    return _ADDRESS.sub("", repr(value))


def is_hazard_expectation(expected: Any) -> bool:
    return isinstance(expected, dict) and {"hazard", "truth"} <= set(expected)


def as_text(value: Any) -> str:
    """A value as one line of text, for comparing two of them (a call's outcome as ``"Type: message"``)."""
    if is_call_outcome(value):
        value = format_value(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return " ".join(text.split())


# --------------------------------------------------------------------------- rows and runs


@dataclasses.dataclass
class Row:
    """One test of one run (a results row)."""

    nodeid: str
    claim: str
    kind: str
    params: dict[str, Any]
    outcome: str
    reason: str | None
    message: str | None
    failure: dict[str, Any] | None
    observations: list[dict[str, Any]]
    expectations: list[dict[str, Any]]

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Row:
        return cls(
            nodeid=row["nodeid"],
            claim=row["claim"],
            kind=row.get("kind") or "rule",
            params=dict(row.get("params") or {}),
            outcome=row["outcome"],
            reason=row.get("reason"),
            message=row.get("message"),
            failure=row.get("failure"),
            observations=list(row.get("observations") or []),
            expectations=list(row.get("expectations") or []),
        )

    @property
    def device(self) -> str:
        return self.params.get("device") or ANY_DEVICE

    @property
    def mode(self) -> str:
        return self.params.get("mode") or "eager"

    @property
    def provider(self) -> str | None:
        """The derivative provider of an operator claim's row (``params.provider``), None for other claims."""
        return self.params.get("provider")

    @property
    def test(self) -> str:
        """The node ID without its file: ``test_x[cpu-float32-eager]``."""
        return self.nodeid.split("::", 1)[-1]


@dataclasses.dataclass
class Run:
    """One run: the results of one torch release on one machine (for the diff: one side)."""

    key: str
    docs: list[dict[str, Any]]
    rows: list[Row]

    @property
    def release(self) -> str:
        return str(self.docs[0]["torch"]["release"])

    @property
    def versions(self) -> list[str]:
        return sorted({str(d["torch"]["version"]) for d in self.docs}, key=version_key)

    @property
    def version(self) -> str:
        return ", ".join(self.versions)

    @property
    def builds(self) -> str:
        return ", ".join(sorted({str(d["torch"].get("build") or d["torch"]["version"]) for d in self.docs}))

    @property
    def python(self) -> str:
        return ", ".join(sorted({str(d.get("python") or "?") for d in self.docs}, key=version_key))

    @property
    def recorded(self) -> bool:
        return all(d["torch"].get("recorded", True) for d in self.docs)

    @property
    def partial(self) -> bool:
        return any(is_partial(d) for d in self.docs)

    @property
    def files(self) -> list[str]:
        return [Path(d.get("_path", "")).name for d in self.docs]

    @functools.cached_property
    def devices(self) -> dict[str, dict[str, Any]]:
        """Every device named in the headers; present if present in any of the run's documents."""
        out: dict[str, dict[str, Any]] = {}
        for d in self.docs:
            for name, info in d["devices"].items():
                if name not in out or (info.get("present") and not out[name].get("present")):
                    out[name] = dict(info)
        return dict(sorted(out.items(), key=lambda kv: device_order(kv[0])))

    @property
    def present(self) -> list[str]:
        return [n for n, i in self.devices.items() if i.get("present")]

    @functools.cached_property
    def modes(self) -> list[str]:
        """The execution modes this run's rows ran in."""
        return sorted({r.mode for r in self.rows}, key=mode_order)

    @property
    def label(self) -> str:
        return self.key + ("" if self.recorded else " (unrecorded version)")


def device_order(name: str) -> tuple:
    from spec.devices import KNOWN_DEVICES

    if name in KNOWN_DEVICES:
        return (0, KNOWN_DEVICES.index(name), name)
    return (1 if name != ANY_DEVICE else 2, 0, name)


def mode_order(name: str) -> tuple:
    from spec.modes import MODE_NAMES

    return (MODE_NAMES.index(name), name) if name in MODE_NAMES else (len(MODE_NAMES), name)


def _doc_order(doc: dict[str, Any]) -> tuple:
    t = doc["torch"]
    return (version_key(t["release"]), version_key(doc.get("python") or ""), str(t.get("build") or ""),
            str(doc.get("label") or ""), Path(doc.get("_path", "")).name)


def runs_of(docs: list[dict[str, Any]]) -> list[Run]:
    """One run per results document, ordered by torch release (as a version), then Python.

    A run's key is its torch release, with the Python (then the build) added only where several
    documents with the same label share the release, then the label where there is one (a provider
    library's run: ``2.15.0/deepxde 1.15.0``); two documents that agree on all of them describe the
    same run, which is an error.
    """
    docs = sorted(docs, key=_doc_order)

    def identity(d: dict[str, Any]) -> tuple[str, ...]:
        py = "py" + ".".join(str(d.get("python") or "?").split(".")[:2])
        return (str(d["torch"]["release"]), py, str(d["torch"].get("build") or ""), str(d.get("label") or ""))

    idents = [identity(d) for d in docs]
    runs: list[Run] = []
    for d, ident in zip(docs, idents):
        twins = [o for o, other in zip(docs, idents) if other == ident and o is not d]
        if twins:
            raise ResultsError(
                f"two results files describe the same run (torch {d['torch']['version']}, Python {d.get('python')}): "
                f"{twins[0].get('_path')} and {d.get('_path')} (give one of them a SPEC_RESULTS_LABEL)"
            )
        peers = [other for other in idents if other[3] == ident[3]]
        level = next(k for k in range(1, 4) if sum(1 for other in peers if other[:k] == ident[:k]) == 1)
        key = "/".join(part for part in ident[:level] if part) or ident[0]
        key += f"/{ident[3]}" if ident[3] else ""
        runs.append(Run(key, [d], [Row.from_json(r) for r in d["tests"]]))
    return runs


def side_run(key: str, docs: list[dict[str, Any]], where: str) -> Run:
    """Every document of one side of a diff as one run: they must all be one torch release."""
    releases = sorted({str(d["torch"]["release"]) for d in docs}, key=version_key)
    if len(releases) != 1:
        raise ResultsError(
            f"{where} holds results of {len(releases)} torch versions ({', '.join(releases)}); "
            "a side of the diff is one torch version: give one results file, or a folder of one version's runs"
        )
    docs = sorted(docs, key=_doc_order)
    rows = [Row.from_json(r) for d in docs for r in d["tests"]]
    return Run(key, docs, rows)


# --------------------------------------------------------------------------- claims and changes


@dataclasses.dataclass
class ClaimInfo:
    id: str
    statement: str | None
    section: str | None
    kind: str
    ref: str | None
    registered: Any = None  # the registry's spec.claims.Claim, or None for a claim it does not know

    @property
    def part(self) -> str:
        from spec.claims import PART_OF

        return PART_OF.get(self.section or "", "")

    @property
    def is_hazard(self) -> bool:
        return self.kind == "hazard"


def load_mutants(path: Path | None = None) -> dict[str, list[dict[str, str]]] | None:
    """Claim ID -> the mutants of torch that turn it red (``spec/data/mutants.json``); None without the file."""
    path = path or MUTANTS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        out: dict[str, list[dict[str, str]]] = defaultdict(list)
        for m in data["mutants"]:
            for cid in m.get("kills") or []:
                out[cid].append({"name": str(m["name"]), "doc": first_line(m.get("doc")), "module": str(m.get("module") or "")})
    except (ValueError, KeyError, TypeError) as exc:
        raise ResultsError(f"{path}: not a mutants file ({exc.__class__.__name__}: {exc})") from None
    return {cid: sorted(v, key=lambda m: m["name"]) for cid, v in out.items()}


# --------------------------------------------------------------------------- cells


@dataclasses.dataclass
class Cell:
    status: str
    rows: list[Row]
    text: str  # "pass 8/8", "fail 1/4, 2 n/a", "n/a", "not run"
    detail: str  # why: the first failure, the n/a or skip reasons, an absent device
    changed: list[str] = dataclasses.field(default_factory=list)  # recorded changes that took effect here

    @property
    def info(self) -> Status:
        return STATUSES[self.status]


def make_cell(rows: list[Row], why_not_run: str = "no results for this combination", changed: list[str] | None = None) -> Cell:
    if not rows:
        return Cell("not run", [], "not run", why_not_run)
    n = Tally.of(r.outcome for r in rows)
    status, held, broken, fixed, verified = n.status, n.held, n.broken, n.fixed, n.verified
    count = {"pass": held, "fail": broken, "fixed": fixed}.get(status)
    if count is not None:
        text = f"{status} {count}/{verified}"
        extras = [f"{k} {w}" for k, w in ((held if status != "pass" else 0, "passed"),
                                           (fixed if status != "fixed" else 0, "fixed"),
                                           (n["n/a"], "n/a"), (n["skipped"], "skipped")) if k]
        if extras:
            text += ", " + ", ".join(extras)
    else:
        text = status
    if status == "fail":
        bad = [r for r in rows if r.outcome in BROKEN]
        detail = f"{len(bad)} of {len(rows)} tests fail: " + (first_line(bad[0].message) or bad[0].outcome)
    elif status == "fixed":
        fx = next(r for r in rows if r.outcome in FIXED)
        detail = first_line(fx.message) or "hazard fixed"
    else:
        reasons = sorted({first_line(r.reason) or "no reason given" for r in rows if r.outcome in UNVERIFIED})
        parts = [f"{held} passed"] if held else []
        if n["n/a"]:
            parts.append(f"{n['n/a']} n/a")
        if n["skipped"]:
            parts.append(f"{n['skipped']} skipped")
        detail = ", ".join(parts) + (": " + "; ".join(reasons) if reasons else "")
    return Cell(status, rows, text, detail, list(changed or []))


# --------------------------------------------------------------------------- the aggregate


class Aggregate:
    """Runs -> cells -> statuses -> changes, for the claims of a registry and of the results."""

    def __init__(self, runs: list[Run], registry: dict[str, Any] | None = None):
        from spec.claims import SECTION_NAMES
        from spec.claims import registry as default_registry

        self.registry = default_registry() if registry is None else registry
        self.runs = runs
        self.run_by_key = {r.key: r for r in runs}
        self._rows: dict[tuple[str, str, str, str], list[Row]] = defaultdict(list)
        self.rows_of: dict[str, list[tuple[Run, Row]]] = defaultdict(list)
        for run in runs:
            for row in run.rows:
                self._rows[(row.claim, run.key, row.device, row.mode)].append(row)
                self.rows_of[row.claim].append((run, row))

        claims: dict[str, ClaimInfo] = {}
        for cid, c in self.registry.items():
            claims[cid] = ClaimInfo(cid, c.statement, c.section, c.kind, c.ref, c)
        self.in_results: set[str] = set(self.rows_of)
        for run in runs:
            for d in run.docs:
                for cid, meta in d["claims"].items():
                    self.in_results.add(cid)
                    if cid not in claims:
                        claims[cid] = ClaimInfo(cid, meta.get("statement"), meta.get("section"), meta.get("kind") or "rule", meta.get("ref"))
        for cid in self.rows_of:
            if cid not in claims:
                kinds = {r.kind for _, r in self.rows_of[cid]}
                claims[cid] = ClaimInfo(cid, None, None, "hazard" if "hazard" in kinds else "rule", None)
        order = {name: i for i, name in enumerate(SECTION_NAMES)}
        position = {cid: i for i, cid in enumerate(claims)}
        self.claims: dict[str, ClaimInfo] = dict(
            sorted(claims.items(), key=lambda kv: (order.get(kv[1].section or "", len(order)), position[kv[0]]))
        )
        self.unknown = sorted(cid for cid in self.in_results if cid not in self.registry)
        #: Each registered claim's recorded behaviour changes (the registry's own objects), sorted by key.
        self.changes: dict[str, list[Versioned]] = {
            cid: sorted(c.registered.changes, key=lambda ch: ch.key) for cid, c in self.claims.items() if c.registered
        }

    # ----------------------------------------------------------------- axes
    def devices_of(self, cid: str) -> list[str]:
        return sorted({r.device for _, r in self.rows_of.get(cid, [])}, key=device_order)

    def modes_of(self, cid: str) -> list[str]:
        return sorted({r.mode for _, r in self.rows_of.get(cid, [])}, key=mode_order)

    def providers_of(self, cid: str) -> list[str]:  # the derivative providers of an operator claim's rows
        return sorted({r.provider for _, r in self.rows_of.get(cid, []) if r.provider is not None})

    # ----------------------------------------------------------------- cells and statuses
    def changed_here(self, cid: str, run: Run) -> list[str]:
        return [ch.observable for ch in self.changes.get(cid, []) if ch.changed_at(run.release)]

    def cell(self, cid: str, run: Run | str, device: str, mode: str, provider: str | None = None) -> Cell:
        """One claim in one run, device and mode (and, for an operator claim, one derivative provider)."""
        run = self.run_by_key[run] if isinstance(run, str) else run
        rows = self._rows.get((cid, run.key, device, mode), [])
        why = "no results for this combination"
        if provider is not None:
            rows = [r for r in rows if r.provider == provider]
            why = f"this run did not run the provider {provider}"
        if not rows and provider is None:
            info = run.devices.get(device)
            if device != ANY_DEVICE and info is not None and not info.get("present"):
                why = info.get("detail") or f"{device} absent"
            elif mode not in run.modes:
                why = f"this run did not run the {mode} mode"
        return make_cell(rows, why, self.changed_here(cid, run))

    def run_cell(self, cid: str, run: Run | str, mode: str | None = None, provider: str | None = None) -> Cell:
        """One claim in one run (in one mode, or in all of them; with one provider, or all), over every device."""
        run = self.run_by_key[run] if isinstance(run, str) else run
        rows = [r for r in self._rows_in(cid, run)
                if (mode is None or r.mode == mode) and (provider is None or r.provider == provider)]
        return make_cell(rows, changed=self.changed_here(cid, run))

    def _rows_in(self, cid: str, run: Run) -> list[Row]:
        return [r for rn, r in self.rows_of.get(cid, []) if rn is run]

    def status(self, cid: str) -> str:
        """A claim's status over every run, device and mode."""
        return status_of(r.outcome for _, r in self.rows_of.get(cid, []))

    def counts(self, cids: Iterable[str]) -> dict[str, int]:
        """How many of the claims have each status (every status, in the order of :data:`STATUSES`)."""
        found = Counter(self.status(cid) for cid in cids)
        return {s: found[s] for s in STATUSES}

    def tally(self, cid: str, run: Run | None = None) -> Tally:
        """How many of a claim's rows (in one run, or in all) ended in each outcome."""
        return Tally.of(r.outcome for rn, r in self.rows_of.get(cid, []) if run is None or rn is run)

    # ----------------------------------------------------------------- what the rows observed
    def observations(self, cid: str) -> list[dict[str, Any]]:
        """Distinct observed values per observable, and (where they differ) the runs that saw each."""
        return _observations(self.rows_of.get(cid, []))

    def hazard_values(self, cid: str) -> list[dict[str, Any]]:
        """A hazard's checks: the truth, the wrong value the hazard gives, and what each run observed."""
        picked = [(run, dataclasses.replace(row, observations=[o for o in row.observations if is_hazard_expectation(o.get("expected"))]))
                  for run, row in self.rows_of.get(cid, [])]
        out = []
        truths: dict[str, tuple[str, str]] = {}
        for _, row in picked:
            for o in row.observations:
                truths.setdefault(str(o.get("name")), (format_value(o["expected"]["truth"]), format_value(o["expected"]["hazard"])))
        for ob in _observations(picked, verdicts=True):
            truth, wrong = truths[ob["name"]]
            out.append({"name": ob["name"], "truth": truth, "wrong": wrong, "seen": ob["seen"]})
        return out

    def applied(self, cid: str) -> dict[tuple[str, str], list[str]]:
        """(change key, branch) -> the runs whose rows applied that branch."""
        applied: dict[tuple[str, str], set[str]] = defaultdict(set)
        keys = {}
        for run, row in self.rows_of.get(cid, []):
            keys[run.key] = run
            for e in row.expectations:
                applied[(str(e.get("key")), str(e.get("branch")))].add(run.key)
        return {k: sorted(v, key=lambda key: self.runs.index(keys[key])) for k, v in applied.items()}


def _param_order(name: str) -> tuple:
    return ({"device": 0, "dtype": 1, "mode": 2}.get(name, 3), name)


def _observations(rows: list[tuple[Run, Row]], verdicts: bool = False) -> list[dict[str, Any]]:
    order: list[str] = []
    groups: dict[str, dict[tuple, dict[str, Any]]] = defaultdict(dict)
    position = {}
    for run, _row in rows:
        position.setdefault(run.key, len(position))
    for run, row in sorted(rows, key=lambda x: (position[x[0].key], x[1].nodeid)):
        dims = {"torch": run.key, "device": row.device}
        dims.update({k: str(v) for k, v in row.params.items() if k != "device"})
        for ob in row.observations:
            name = str(ob.get("name"))
            if name not in groups:
                order.append(name)
            observed = format_value(ob.get("observed"))
            expected = format_value(ob.get("expected"), expected=True)
            ok = bool(ob.get("ok", True))
            verdict = str(ob.get("hazard") or "") if verdicts else ""
            g = groups[name].setdefault(
                (observed, expected, ok, verdict),
                {"observed": observed, "expected": expected, "ok": ok, "verdict": verdict, "dims": defaultdict(set), "runs": 0},
            )
            for k, v in dims.items():
                g["dims"][k].add(v)
            g["runs"] += 1
    out = []
    for name in order:
        every: dict[str, set[str]] = defaultdict(set)
        for g in groups[name].values():
            for k, v in g["dims"].items():
                every[k] |= v
        seen = []
        for g in sorted(groups[name].values(), key=lambda g: (not g["ok"], g["observed"], g["expected"], g["verdict"])):
            where = []
            for k in ["torch"] + sorted((k for k in every if k != "torch"), key=_param_order):
                mine = g["dims"].get(k, set())
                if mine == every[k]:
                    continue  # not what tells this value apart
                key = (lambda v: position[v]) if k == "torch" else (device_order if k == "device" else (mode_order if k == "mode" else str))
                where.append(f"{k} {', '.join(sorted(mine, key=key))}")
            seen.append({
                "observed": g["observed"],
                "expected": g["expected"],
                "same": g["observed"] == g["expected"],
                "ok": g["ok"],
                "verdict": g["verdict"],
                "runs": g["runs"],
                "where": "; ".join(where),
            })
        out.append({"name": name, "seen": seen})
    return out


__all__ = [
    "ANY_DEVICE", "Aggregate", "Cell", "ClaimInfo", "Row", "Run", "STATUSES", "Status", "Tally", "as_text",
    "first_line", "format_value", "load_mutants", "make_cell", "runs_of", "side_run", "status_of", "version_key",
]
