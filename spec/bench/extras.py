"""The report's sections beyond the timed cases: the instruction counts, and the published D = 50 Laplacian
experiment beside the paper's table (both read from the benchmark JSON: ``autograd_spec.instructions``, written
by ``python -m tests.bench.instructions --into``, and ``autograd_spec.laplacian_d50``, written by
``python -m tests.bench.laplacian_d50 --into``)."""

from __future__ import annotations

from typing import Any

#: which of the paper's rows each method reproduces (Dangel et al., NeurIPS 2025, Table 1, Laplacian, exact)
PAPER_ROW = {"nested": "nested", "jet_standard": "standard Taylor", "ours_standard": "standard Taylor",
             "jet_collapsed": "collapsed Taylor", "ours_collapsed": "collapsed Taylor"}


def counts_model(run: dict) -> dict[str, Any] | None:
    """The instruction counts of a run, beside its wall-time ratios."""
    rec = run["meta"].get("instructions")
    if not isinstance(rec, dict) or not rec.get("cases"):
        return None
    wall = {case: row for (case, _dev), row in run["rows"].items()}
    eager = [c for c in run["desc"]["cases"].values() if not c.get("na") and not _compiled(run, c["method"])]
    lines = []
    for case, c in rec["cases"].items():
        row = wall.get(case)
        lines.append({"case": case, "method": c["method"] / 1e6, "forward": c["forward"] / 1e6,
                      "ratio": c["method"] / c["forward"], "wall": row["ratio"] if row else None})
    missing = sorted({c["case"] for c in eager} - set(rec["cases"]))
    reasons = sorted({(rec.get("not_counted") or {}).get(c, "no reason recorded") for c in missing})
    return {"rec": rec, "lines": lines, "eager": len(eager), "missing": missing, "reasons": reasons}


def _compiled(run: dict, method: str) -> bool:
    return any(m["name"] == method and m.get("compiled_from") for m in run["desc"]["methods"])


def d50_model(doc: dict | None) -> dict[str, Any] | None:
    """The D = 50 experiment: slopes per method beside the paper's, the collapsed/standard ratios, the stochastic
    rows."""
    if not isinstance(doc, dict) or not doc.get("exact"):
        return None
    paper = doc["paper"]
    lines = []
    for name, e in doc["exact"].items():
        if "n/a" in e:
            lines.append({"method": name, "na": e["n/a"]})
            continue
        d, n = e["differentiable"], e["not differentiable"]
        row = PAPER_ROW.get(name)
        lines.append({"method": name, "na": None, "ms_diff": d["ms_per_datum"], "ms_nodiff": n["ms_per_datum"],
                      "mib_diff": d.get("mib_per_datum"), "mib_nodiff": n.get("mib_per_datum"),
                      "paper": paper.get(row) if row else None, "paper_row": row, "error": e["rel_error_float64"]})
    slopes = {x["method"]: x for x in lines if not x["na"]}
    ratios = []
    for label, std, col in (("jet-for-pytorch", "jet_standard", "jet_collapsed"),
                            ("ours (by hand)", "ours_standard", "ours_collapsed")):
        if std in slopes and col in slopes:
            ratios.append({"label": label,
                           "diff": slopes[col]["ms_diff"] / slopes[std]["ms_diff"],
                           "nodiff": slopes[col]["ms_nodiff"] / slopes[std]["ms_nodiff"]})
    stoch = doc.get("stochastic") or {}
    exact_at = []  # the exact methods' time at the stochastic rows' batch size, where the sweep has it
    for name, e in doc["exact"].items():
        nd = e.get("not differentiable") or {}
        if stoch.get("batch") in (nd.get("batches") or []):
            exact_at.append({"method": name, "ms": 1e3 * nd["seconds"][nd["batches"].index(stoch["batch"])]})
    return {"doc": doc, "lines": lines, "ratios": ratios, "predicted": paper["predicted collapsed/standard"],
            "paper_measured": paper["measured collapsed/standard"], "stochastic": stoch.get("rows") or [],
            "stoch": stoch, "exact_at": exact_at}
