"""Loading a benchmark JSON (what ``pytest tests/bench --benchmark-json`` writes) into a run, and whether two
runs are comparable (the machine's fingerprint)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from spec.errors import CommandError


def load(path: str | Path) -> dict[str, Any]:
    """A run: {path, label, meta, rows: {(case, device): row}, not_timed: {...}, desc: {...}}."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise CommandError(f"{path}: not a pytest-benchmark JSON (no 'benchmarks' list)")
    meta = doc.get("autograd_spec") or {}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for bench in doc["benchmarks"]:
        extra = bench.get("extra_info") or {}
        if "case" not in extra or "ratio" not in extra:
            raise CommandError(f"{path}: benchmark {bench.get('name', '?')!r} has no extra_info.case/ratio "
                               "(not written by tests/bench)")
        rows[(extra["case"], extra.get("device", "cpu"))] = extra
    if not rows and not meta:
        raise CommandError(f"{path}: no benchmarks from tests/bench in it")
    not_timed = {(r["case"], r.get("device", "cpu")): r for r in meta.get("not_timed", [])}
    torch_version = meta.get("torch") or next((r.get("torch") for r in rows.values() if r.get("torch")), "?")
    return {
        "path": str(path),
        "label": f"torch {torch_version}",
        "torch": torch_version,
        "meta": meta,
        "datetime": doc.get("datetime"),
        "machine": doc.get("machine_info") or {},
        "rows": rows,
        "not_timed": not_timed,
        "desc": describe(meta, rows, not_timed),
    }


_CASE_ID = re.compile(r"^(?P<workload>[a-z_0-9]+)-(?P<pname>[a-z]+)(?P<param>\d+)-(?P<method>.+)$")


def describe(meta: dict, rows: dict, not_timed: dict) -> dict[str, Any]:
    """Workloads (ordered, with their sizes), methods (ordered) and cases, as tests/bench recorded them.

    Schema 2 JSON carries them (``autograd_spec.workloads/methods/cases``). A schema 1 JSON (written
    before the method registry) has none: its workloads, sizes and method order are read from
    the rows in run order, and it has no descriptions.
    """
    if meta.get("methods") and meta.get("workloads"):
        cases = {c["case"]: c for c in meta.get("cases", [])}
        for row in rows.values():
            cases.setdefault(row["case"], {"case": row["case"], "workload": row["workload"],
                                           "param": int(row["param"]), "method": row["method"], "na": None})
        return {"workloads": meta["workloads"], "methods": meta["methods"], "cases": cases, "described": True}
    cases: dict[str, dict] = {}
    seqs: dict[tuple[str, int], list[str]] = defaultdict(list)
    pnames: dict[str, str] = {}
    for row in rows.values():
        cases[row["case"]] = {"case": row["case"], "workload": row["workload"], "param": int(row["param"]),
                              "method": row["method"], "na": None}
        seqs[(row["workload"], int(row["param"]))].append(row["method"])
        pnames[row["workload"]] = row.get("param_name") or _CASE_ID.match(row["case"]).group("pname")
    for case_id, r in not_timed.items():
        m = _CASE_ID.match(case_id[0])
        if m and case_id[0] not in cases:
            cases[case_id[0]] = {"case": case_id[0], "workload": m["workload"], "param": int(m["param"]),
                                 "method": m["method"], "na": r.get("reason") if r.get("status") == "n/a" else None}
            pnames.setdefault(m["workload"], m["pname"])
    workloads = []
    for c in cases.values():
        if c["workload"] not in [w["name"] for w in workloads]:
            workloads.append({"name": c["workload"], "description": None, "param_name": pnames[c["workload"]],
                              "params": []})
    for wl in workloads:
        wl["params"] = sorted({c["param"] for c in cases.values() if c["workload"] == wl["name"]})
    methods = [{"name": m, "description": None, "family": None, "compiled_from": None, "compile": None,
                "headline": None} for m in _merge_orders(list(seqs.values()), [c["method"] for c in cases.values()])]
    return {"workloads": workloads, "methods": methods, "cases": cases, "described": False}


def _merge_orders(seqs: list[list[str]], everything: list[str]) -> list[str]:
    """One order consistent with every sequence (topological; ties by first appearance), then the rest."""
    first: dict[str, int] = {}
    for seq in seqs:
        for m in seq:
            first.setdefault(m, len(first))
    for m in everything:
        first.setdefault(m, len(first))
    after: dict[str, set[str]] = defaultdict(set)
    indeg = dict.fromkeys(first, 0)
    for seq in seqs:
        for a, b in zip(seq[:-1], seq[1:], strict=True):
            if b not in after[a]:
                after[a].add(b)
                indeg[b] += 1
    order: list[str] = []
    ready = sorted((m for m, d in indeg.items() if d == 0), key=first.get)
    while ready:
        m = ready.pop(0)
        order.append(m)
        for b in after[m]:
            indeg[b] -= 1
            if indeg[b] == 0:
                ready.append(b)
        ready.sort(key=first.get)
    return order + [m for m in sorted(first, key=first.get) if m not in order]


def fingerprint(run: dict) -> dict[str, Any]:
    """What must be equal for two runs' ratios to be comparable: the CPU, the threads, the sizes, the clock and the
    timing plan (blocks, rounds: the estimator itself)."""
    cpu = run["machine"].get("cpu") or {}
    clocks = sorted({r.get("clock") for r in run["rows"].values() if r.get("clock")})
    return {
        "CPU": f"{cpu['brand_raw']} x{cpu.get('count', '?')}" if cpu.get("brand_raw") else None,
        "threads": run["meta"].get("threads"),
        "sizes": run["meta"].get("sizes"),
        "clock": ", ".join(clocks) or None,
        "timing plan": run["meta"].get("timing"),
    }


def machine_differences(old: dict, new: dict) -> list[str]:
    """'CPU: A vs B' for each fingerprint entry known in both runs that differs (empty: comparable)."""
    a, b = fingerprint(old), fingerprint(new)
    return [f"{k}: {a[k]} vs {b[k]}" for k in a if a[k] is not None and b[k] is not None and a[k] != b[k]]
