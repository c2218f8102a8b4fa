"""The benchmark report (``report.md`` and its plots) and the Markdown of a comparison.

Each is a model (plain data computed from the runs here) rendered by a template in ``spec/templates``
(``bench-report.md.j2``, ``bench-compare.md.j2``) through :func:`spec.render.environment`, like the
claim book; the filters below format the figures.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from spec.bench.extras import counts_model, d50_model
from spec.bench.load import View
from spec.bench.stats import DEFAULT_CONFIDENCE, DEFAULT_RUN_NOISE, gate_precision
from spec.render import environment, tidy

REPORT_NAME = "report.md"
#: a CV above this is counted in the report's summary of the rounds' steadiness
CV_STEADY = 0.05
#: the per-ratio precision a run aims at when its JSON records none (tests/bench/timing.py PRECISION)
DEFAULT_PRECISION = 0.05


# --------------------------------------------------------------------------- formatting (the templates' filters)


def _pct(cv) -> str:
    return "n/a" if cv is None or (isinstance(cv, float) and math.isnan(cv)) else f"{cv:.1%}"


def _cell(row: dict | None, reason: dict | None = None) -> str:
    """A ratio with its CV, or why there is none."""
    if row is None:
        if reason is None:
            return "–"
        return "n/a" if reason.get("status") == "n/a" else reason.get("status", "–")
    return f"{row['ratio']:.1f}× ({_pct(row.get('ratio_cv'))})"


def _mib(row: dict | None) -> str:
    if row is None or row.get("peak_bytes") is None:
        return "–"
    return f"{row['peak_bytes'] / 2**20:.1f}"


def _interval(c: dict) -> str:
    if math.isinf(c["high"]):
        return "–"
    return f"{c['low'] - 1:+.1%} .. {c['high'] - 1:+.1%}"


def _each(values, pattern: str) -> list[str]:
    """``[1, 2] | each("k={}")`` -> ``["k=1", "k=2"]``."""
    return [pattern.format(v) for v in values]


def _environment():
    env = environment()
    env.filters.update(fmt=format, each=_each, pct=_pct, interval=_interval)
    return env


# --------------------------------------------------------------------------- the comparison


def compare_model(result: dict, old: dict, new: dict, threshold: float,
                  confidence: float = DEFAULT_CONFIDENCE) -> dict[str, Any]:
    counts = {s: sum(1 for c in result["changes"] if c["status"] == s) for s in ("slower", "ok", "not measurable")}
    pooled = [{"method": m, "device": dev, **r} for (m, dev), r in result["methods"].items()]
    if result["overall"] is not None:
        pooled.append({"method": "all ratios", "device": "", **result["overall"]})
    return {
        "old": old,
        "new": new,
        "result": result,
        "threshold": threshold,
        "confidence": confidence,
        "decided": sum(1 for c in result["changes"] if math.isfinite(c["within_half"])),
        "not_timed": [m for m in result["missing"] if m["status"] != "absent"],
        "failed": [r for r in result["regressions"] if "new" not in r],
        "absent": sum(1 for m in result["missing"] if m["status"] == "absent"),
        "pooled": pooled,
        "counts": counts,
        "n_failed": len(result["regressions"]) - counts["slower"],
        "regression": bool(result["regressions"] or result["pooled_regressions"]),
    }


def render_compare(result: dict, old: dict, new: dict, threshold: float,
                   confidence: float = DEFAULT_CONFIDENCE) -> str:
    """The comparison as Markdown (what ``--compare`` prints, and writes with ``--out``)."""
    model = compare_model(result, old, new, threshold, confidence)
    return tidy(_environment().get_template("bench-compare.md.j2").render(m=model))


# --------------------------------------------------------------------------- the report


def _geomean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else float("nan")


def _growth(ratios: list[float | None]) -> list[float | None]:
    out: list[float | None] = [None]
    for a, b in zip(ratios[:-1], ratios[1:], strict=True):
        out.append(b / a if a and b else None)
    return out


def _by(run: dict, device: str) -> dict[tuple[str, int, str], dict]:
    """The rows timed on ``device``: (workload, param, method) -> row."""
    out = {}
    for (_case, dev), row in run["rows"].items():
        if dev == device:
            out[(row["workload"], int(row["param"]), row["method"])] = row
    return out


def _reasons(run: dict, device: str) -> dict[tuple[str, int, str], dict]:
    """Why a case was not timed on ``device``: (workload, param, method) -> the not_timed record."""
    cases = run["desc"]["cases"]
    out = {}
    for (case_id, dev), r in run["not_timed"].items():
        c = cases.get(case_id)
        if dev != device or c is None:
            continue
        out[(c["workload"], int(c["param"]), c["method"])] = r
    return out


def _is_na(reason: dict | None) -> bool:
    return reason is not None and reason.get("status") == "n/a"


def _cpu(run: dict) -> str:
    """The CPU as pytest-benchmark recorded it (brand and cores); the figures depend on it."""
    cpu = run["machine"].get("cpu") or {}
    if cpu.get("brand_raw"):
        return f"{cpu['brand_raw']}, {cpu.get('count', '?')} cores"
    return run["meta"].get("processor") or "CPU unknown"


def _slug(run: dict, device: str) -> str:
    return f"torch{run['torch']}-{device}".replace("+", "_")


def plot_names(run: dict, device: str) -> dict[str, str]:
    """The PNG files of a section: the cost per order and the Laplacian's cost per dimension."""
    return {"orders": f"orders-{_slug(run, device)}.png", "laplacian": f"laplacian-{_slug(run, device)}.png"}


def _steadiness(rows: dict, meta: dict) -> dict[str, Any]:
    """How steady the rounds were: the CVs, and how many ratios a comparison could decide on their own."""
    cvs = [r["ratio_cv"] for r in rows.values() if r.get("ratio_cv") is not None and not math.isnan(r["ratio_cv"])]
    spreads = [(r["spread"], len(r.get("ratios") or [])) for r in rows.values()
               if r.get("spread") is not None and not math.isnan(r["spread"])]
    cv = None
    if cvs:
        cv = {"median": statistics.median(cvs), "max": max(cvs), "over": sum(1 for c in cvs if c > CV_STEADY),
              "n": len(cvs), "steady": CV_STEADY}
    precision = None
    if spreads:
        target = (meta.get("timing") or {}).get("precision") or DEFAULT_PRECISION
        precisions = [gate_precision(sp, n, len(spreads)) for sp, n in spreads]
        precision = {"met": sum(1 for h in precisions if h <= target), "n": len(precisions), "target": target,
                     "median": statistics.median(precisions), "run_noise": DEFAULT_RUN_NOISE}
    return {"cv": cv, "precision": precision}


def _headline(rows: dict, v: View) -> dict[str, Any] | None:
    """Growth per order of the headline methods; the fastest and slowest Laplacian at the largest d."""
    orders, dims = v.p("derivative"), v.p("laplacian")
    parts = []
    for m, label in v.headline:
        ratios = [rows.get(("derivative", k, m)) for k in orders]
        if ratios and all(ratios):
            g = _geomean([x for x in _growth([r["ratio"] for r in ratios])[1:] if x])
            parts.append({"label": label, "growth": g, "k": orders[-1], "ratio": ratios[-1]["ratio"]})
    lap = sorted((r["ratio"], m) for (w, dd, m), r in rows.items() if dims and w == "laplacian" and dd == dims[-1])
    laplacian = None
    if lap:
        laplacian = {"d": dims[-1], "fastest": [{"method": m, "ratio": x} for x, m in lap[:3]],
                     "slowest": {"method": lap[-1][1], "ratio": lap[-1][0]}}
    return {"parts": parts, "laplacian": laplacian} if parts or laplacian else None


def _orders(rows: dict, reasons: dict, v: View) -> dict[str, Any]:
    """The k-th derivative: each method's ratio per order and its growth per order."""
    orders = v.p("derivative")
    lines, growth_lines = [], []
    for m in v.methods:
        cells = [rows.get(("derivative", k, m)) for k in orders]
        if not any(cells) and all(reasons.get(("derivative", k, m), {}).get("status") == "n/a" for k in orders):
            continue
        growth = _growth([c["ratio"] if c else None for c in cells])
        g = _geomean([x for x in growth if x is not None])
        lines.append({"method": m, "cells": [_cell(c, reasons.get(("derivative", k, m))) for c, k in zip(cells, orders, strict=True)],
                      "growth": None if math.isnan(g) else g})
        if sum(1 for c in cells if c) > 1:
            growth_lines.append({"method": m, "steps": growth[1:]})
    return {"orders": orders, "lines": lines, "growth": growth_lines}


def _laplacian(rows: dict, reasons: dict, v: View) -> dict[str, Any]:
    dims = v.p("laplacian")
    lines = []
    for m in v.methods:
        cells = [rows.get(("laplacian", d, m)) for d in dims]
        why = [reasons.get(("laplacian", d, m)) for d in dims]
        if not any(cells) and all(_is_na(r) for r in why):
            lines.append({"method": m, "cells": ["n/a" for _ in dims], "mib": "–"})
        else:
            lines.append({"method": m, "cells": [_cell(c, r) for c, r in zip(cells, why, strict=True)],
                          "mib": " / ".join(_mib(c) for c in cells)})
    return {"dims": dims, "lines": lines}


def _ranks(table: dict[str, dict | None], among: dict[str, dict | None]) -> dict[str, int]:
    """Method -> rank by ratio, among the methods timed in both ``table`` and ``among``."""
    ordered = sorted((r["ratio"], m) for m, r in table.items() if r and among.get(m))
    return {m: i + 1 for i, (_, m) in enumerate(ordered)}


def _single(rows: dict, reasons: dict, v: View, workload: str) -> dict[str, Any] | None:
    """One workload at its first parameter: the methods side by side, ranked."""
    if not v.p(workload):
        return None
    p = v.p(workload)[0]
    entries = [(m, rows.get((workload, p, m)), reasons.get((workload, p, m))) for m in v.methods]
    entries = [(m, row, reason) for m, row, reason in entries if not (row is None and _is_na(reason))]
    timed = {m: row for m, row, _ in entries}
    rank = _ranks(timed, timed)
    return {"lines": [{"method": m, "cell": _cell(row, reason), "rank": rank.get(m, "–"), "mib": _mib(row)}
                      for m, row, reason in entries]}


def _pinn(rows: dict, reasons: dict, v: View) -> dict[str, Any] | None:
    """The PINN step beside the Laplacian alone at the same d: how the methods' ranks change."""
    if not v.p("pinn_step"):
        return None
    dim = v.p("pinn_step")[0]
    step = {m: rows.get(("pinn_step", dim, m)) for m in v.methods}
    lap = {m: rows.get(("laplacian", dim, m)) for m in v.methods}
    rank_step, rank_lap = _ranks(step, step), _ranks(lap, step)
    lines = []
    for m in v.methods:
        row, reason = step[m], reasons.get(("pinn_step", dim, m))
        if row is None and _is_na(reason):
            continue
        lines.append({"method": m, "step": _cell(row, reason), "rank_step": rank_step.get(m, "–"),
                      "laplacian": _cell(lap[m], reasons.get(("laplacian", dim, m))),
                      "rank_laplacian": rank_lap.get(m, "–"), "mib": _mib(row)})
    return {"d": dim, "lines": lines}


def _compiled(rows: dict, reasons: dict, v: View) -> list[dict[str, Any]]:
    """Compiled methods beside their eager method: steady-state ratios, and the compile (first call) apart."""
    lines = []
    for c in v.cases.values():
        spec = next((m for m in v.compiled if m["name"] == c["method"]), None)
        if spec is None:
            continue
        key = (c["workload"], int(c["param"]), c["method"])
        row, reason = rows.get(key), reasons.get(key)
        if row is None and (reason is None or reason.get("status") == "n/a"):
            continue
        eager = rows.get((c["workload"], int(c["param"]), spec["compiled_from"]))
        line = {"workload": c["workload"], "pname": v.pnames.get(c["workload"], ""), "param": c["param"],
                "method": spec["compiled_from"], "eager": _cell(eager)}
        if row is None:
            status, why = reason.get("status", "not timed"), reason.get("reason", "").replace("|", "/")
            line.update(compiled=why if why.startswith(status) else f"{status}: {why}", speed=None, compile=None)
        else:
            line.update(compiled=_cell(row), speed=row["ratio"] / eager["ratio"] if eager else None,
                        compile=row.get("compile_seconds"))
        lines.append(line)
    return lines


def _memory(rows: dict, v: View) -> dict[str, Any]:
    orders = v.p("derivative")
    lines = []
    for m in v.methods:
        cells = [rows.get(("derivative", k, m)) for k in orders]
        if any(cells):
            lines.append({"method": m, "cells": [_mib(c) for c in cells]})
    fwd = [r.get("forward_peak_bytes") for r in rows.values() if r.get("forward_peak_bytes") is not None]
    return {"orders": orders, "lines": lines, "forward_mib": max(fwd) / 2**20 if fwd else None}


def _not_timed(run: dict, device: str) -> list[dict[str, str]]:
    """The cases not timed on ``device``, grouped by status and reason (failures first)."""
    cases = run["desc"]["cases"]
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (_case, dev), r in sorted(run["not_timed"].items()):
        if dev != device:
            continue
        reason = r["reason"]
        if r["status"] == "n/a":  # the registry's wording at the time of the run
            reason = (cases.get(r["case"]) or {}).get("na") or reason
        grouped[(r["status"], reason.replace("|", "/"))].append(r["case"])
    return [{"status": status, "reason": reason, "cases": ", ".join(names)}
            for (status, reason), names in sorted(grouped.items(), key=lambda kv: (kv[0][0] != "failed", kv[0]))]


def section_model(run: dict, device: str, plots: bool) -> dict[str, Any]:
    """One run on one device: the facts of the run, then every table."""
    v = View(run)
    rows, reasons = _by(run, device), _reasons(run, device)
    eager_rows = {k: r for k, r in rows.items() if k[2] in v.methods}
    meta = run["meta"]
    any_row = next(iter(rows.values()), {})
    sizes = meta.get("sizes", {})
    return {
        "label": run["label"],
        "device": device,
        "python": meta.get("python", "?"),
        "cpu": _cpu(run),
        "threads": meta.get("threads", "?"),
        "clock": any_row.get("clock", "?"),
        "jet": meta.get("jet"),
        "when": run["datetime"][:16].replace("T", " ") if run.get("datetime") else None,
        "wall_min": meta["wall_s"] / 60 if meta.get("wall_s") is not None else None,
        "sizes": {k: sizes.get(k) for k in ("points", "hidden", "dtype", "reference")} if sizes else None,
        "memory_how": any_row.get("memory_how", "?"),
        **_steadiness(rows, meta),
        "headline": _headline(eager_rows, v),
        "derivative": _orders(rows, reasons, v),
        "laplacian": _laplacian(rows, reasons, v),
        "biharmonic": _single(rows, reasons, v, "biharmonic"),
        "pinn": _pinn(rows, reasons, v),
        "compiled": _compiled(rows, reasons, v),
        "memory": _memory(rows, v),
        "not_timed": _not_timed(run, device),
        "plots": plot_names(run, device) if plots else None,
    }


def report_model(runs: list[dict], plots: bool = True) -> dict[str, Any]:
    """Everything report.md shows, as plain data: one section per run and device, then the runs side by side."""
    out = []
    for run in runs:
        devices = sorted({dev for (_c, dev) in run["rows"]})
        absent = []
        for device in sorted({dev for (_c, dev) in run["not_timed"]} - set(devices)):
            why = next(r["reason"] for (_c, dev), r in sorted(run["not_timed"].items()) if dev == device)
            absent.append({"device": device, "why": why})
        out.append({"label": run["label"], "sections": [section_model(run, d, plots) for d in devices],
                    "absent": absent, "counts": counts_model(run), "d50": d50_model(run["meta"].get("laplacian_d50"))})
    across = None
    if len(runs) > 1:
        keys = sorted({k for r in runs for k in r["rows"]})
        across = {"labels": [r["label"] for r in runs],
                  "lines": [{"case": case, "device": dev, "cells": [_cell(r["rows"].get((case, dev))) for r in runs]}
                            for case, dev in keys]}
    return {"files": [Path(r["path"]).name for r in runs], "legend": runs[-1]["desc"], "runs": out, "across": across}


def render_markdown(runs: list[dict], plots: bool = True, plots_missing: bool = False) -> str:
    """The text of report.md (what --check compares); ``plots``: link the PNGs that ``render`` draws."""
    model = report_model(runs, plots)
    return tidy(_environment().get_template("bench-report.md.j2").render(m=model, plots_missing=plots_missing))


def render(runs: list[dict], out: Path, plots: bool = True) -> Path:
    """Write report.md into ``out``, and its plots when ``plots`` and matplotlib is installed."""
    out.mkdir(parents=True, exist_ok=True)
    draw = plots
    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            draw = False
    if draw:
        from spec.bench.plots import plot_laplacian, plot_orders

        for run in runs:
            v = View(run)
            for device in sorted({dev for (_c, dev) in run["rows"]}):
                eager_rows = {k: r for k, r in _by(run, device).items() if k[2] in v.methods}
                names, title = plot_names(run, device), f"{run['label']}, {device}"
                plot_orders(eager_rows, v, out / names["orders"], title)
                plot_laplacian(eager_rows, v, out / names["laplacian"], title)
    path = out / REPORT_NAME
    path.write_text(render_markdown(runs, plots, plots_missing=plots and not draw))
    return path
