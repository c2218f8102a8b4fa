"""Loading a benchmark JSON (what ``pytest tests/bench --benchmark-json`` writes) into a run, and whether two
runs are comparable (the machine's fingerprint)."""

from __future__ import annotations

import json
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
        missing = [key for key in ROW_KEYS if key not in extra]
        if missing:
            raise CommandError(f"{path}: benchmark {bench.get('name', '?')!r} has no extra_info.{'/'.join(missing)} "
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
        "desc": describe(path, meta, rows),
    }


#: what each timed row must carry (``extra_info`` of every benchmark, written by tests/bench)
ROW_KEYS = ("case", "ratio", "workload", "param", "method")


def describe(path: Path, meta: dict, rows: dict) -> dict[str, Any]:
    """Workloads (ordered, with their sizes), methods (ordered) and cases, as tests/bench recorded them in the
    JSON (``autograd_spec.workloads/methods/cases``, schema 2)."""
    if not (meta.get("methods") and meta.get("workloads")):
        raise CommandError(f"{path}: no workload and method descriptions (autograd_spec.workloads/methods, schema 2): "
                           "written before the method registry; re-run tests/bench")
    cases = {c["case"]: c for c in meta.get("cases", [])}
    for row in rows.values():
        cases.setdefault(row["case"], {"case": row["case"], "workload": row["workload"],
                                       "param": int(row["param"]), "method": row["method"], "na": None})
    return {"workloads": meta["workloads"], "methods": meta["methods"], "cases": cases}


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


class View:
    """What one run's JSON says about its workloads and methods."""

    def __init__(self, run: dict) -> None:
        desc = run["desc"]
        self.params = {w["name"]: [int(p) for p in w["params"]] for w in desc["workloads"]}
        self.pnames = {w["name"]: w.get("param_name") or "" for w in desc["workloads"]}
        self.methods = [m["name"] for m in desc["methods"] if not m.get("compiled_from")]
        self.compiled = [m for m in desc["methods"] if m.get("compiled_from")]
        self.headline = [(m["name"], m["headline"]) for m in desc["methods"] if m.get("headline")]
        self.cases = desc["cases"]

    def p(self, workload: str) -> list[int]:
        return self.params.get(workload, [])
