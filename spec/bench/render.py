"""The benchmark report (Markdown and PNG plots) and the Markdown of a comparison."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from pathlib import Path

from spec.bench.stats import DEFAULT_CONFIDENCE, gate_precision

REPORT_NAME = "report.md"


def _interval_text(c: dict) -> str:
    if math.isinf(c["high"]):
        return "–"
    return f"{c['low'] - 1:+.1%} .. {c['high'] - 1:+.1%}"


def compare_lines(result: dict, old: dict, new: dict, threshold: float,
                  confidence: float = DEFAULT_CONFIDENCE) -> list[str]:
    lines = [
        f"# Benchmark comparison: {old['label']} -> {new['label']}",
        "",
        f"OLD: `{old['path']}`  NEW: `{new['path']}`. Change: NEW/OLD of the ratio (method / forward) from the "
        f"per-round ratios (Hodges-Lehmann estimate). Interval: the rounds' distribution-free (Mann-Whitney) "
        f"spread combined with the run-to-run noise tau = {result['run_noise']:.1%} "
        f"({result['run_noise_how']}), at {result['ratio_confidence']:.4%} per ratio so that two runs of one torch "
        f"raise no alarm at {confidence:.0%} (Bonferroni over {sum(1 for c in result['changes'] if math.isfinite(c['within_half']))} "
        f"ratios). **slower**: the whole interval above +{threshold:.0%}; ok: the whole "
        f"interval below +{threshold:.0%}; not measurable: the interval contains +{threshold:.0%} (the noise hides "
        "whether it got slower).",
        "",
        "| case | device | OLD ratio (CV, rounds) | NEW ratio (CV, rounds) | change | interval | verdict |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    if result.get("machine_differences"):
        lines[1:1] = ["", "**Different machines** (" + "; ".join(result["machine_differences"]) + "): every change "
                      "below mixes the machine's and torch's; compared only because --any-machine was given."]
    for c in result["changes"]:
        flag = {"slower": f"**SLOWER by more than {threshold:.0%}**", "ok": "ok"}.get(
            c["status"], "not measurable at this noise" + (f" ({c['why']})" if c.get("why") else ""))
        lines.append(
            f"| {c['case']} | {c['device']} | {c['old']:.2f} ({_pct(c['old_cv'])}, {c['old_rounds']}) | {c['new']:.2f} "
            f"({_pct(c['new_cv'])}, {c['new_rounds']}) | {c['change'] - 1:+.1%} | {_interval_text(c)} | {flag} |"
        )
    absent = [m for m in result["missing"] if m["status"] == "absent"]
    for m in result["missing"]:
        if m["status"] != "absent":
            lines.append(f"| {m['case']} | {m['device']} | {m['old']:.2f} | not timed ({m['status']}) | | | "
                         f"{m['reason']} |")
    for r in result["regressions"]:
        if "new" not in r:
            lines.append(f"| {r['case']} | {r['device']} | {r['old']:.2f} | **FAILED** | | | {r['reason']} |")
    lines.append("")
    if absent:
        lines += [f"{len(absent)} case(s) timed in OLD are not in NEW at all (a subset run?): not compared.", ""]
    pooled = [((m, dev), r) for (m, dev), r in result["methods"].items()]
    if result["overall"] is not None:
        pooled.append((("all ratios", ""), result["overall"]))
    if pooled:
        lines += ["Per method (its ratios over all workloads) and over all ratios: the weighted mean change, each "
                  f"ratio weighted by 1 / (its rounds' variance + tau^2), with a shift of a whole run of "
                  f"{result['run_shift']:.1%} (which no comparison can tell from torch's); at "
                  f"{result['method_confidence']:.3%} per method (Bonferroni over {len(result['methods'])}), "
                  f"{confidence:.0%} over all.", "",
                  "| method | device | ratios | change | interval | verdict |", "|---|---|---:|---:|---|---|"]
        for (m, dev), r in pooled:
            flag = {"slower": f"**SLOWER by more than {threshold:.0%}**", "ok": "ok"}.get(
                r["status"], "not measurable at this noise")
            lines.append(f"| {m} | {dev} | {r['n']} | {r['change'] - 1:+.1%} | {_interval_text(r)} | {flag} |")
        lines.append("")
    counts = {s: sum(1 for c in result["changes"] if c["status"] == s) for s in ("slower", "ok", "not measurable")}
    n_failed = len(result["regressions"]) - counts["slower"]
    summary = (f"{counts['slower']} slower, {counts['ok']} ok, {counts['not measurable']} not measurable at this "
               f"noise ({len(result['changes'])} compared)")
    slower_pooled = result["pooled_regressions"]
    pooled_text = f"; slower pooled: {', '.join(slower_pooled)}" if slower_pooled else "; no method slower pooled"
    if result["regressions"] or slower_pooled:
        lines.append(f"REGRESSION: {summary}{pooled_text}; {n_failed} method(s) now failing their correctness check.")
    else:
        lines.append(f"OK: nothing measurably slower by more than {threshold:.0%}: {summary}{pooled_text}.")
    return lines


def _pct(cv) -> str:
    return "n/a" if cv is None or (isinstance(cv, float) and math.isnan(cv)) else f"{cv:.1%}"


def _cell(row: dict | None, reason: dict | None = None) -> str:
    if row is None:
        if reason is None:
            return "–"
        return "n/a" if reason.get("status") == "n/a" else reason.get("status", "–")
    return f"{row['ratio']:.1f}× ({_pct(row.get('ratio_cv'))})"


def _mib(row: dict | None) -> str:
    if row is None or row.get("peak_bytes") is None:
        return "–"
    return f"{row['peak_bytes'] / 2**20:.1f}"


def _geomean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values)) if values else float("nan")


def _by(run: dict, device: str) -> dict[tuple[str, int, str], dict]:
    out = {}
    for (_case, dev), row in run["rows"].items():
        if dev == device:
            out[(row["workload"], int(row["param"]), row["method"])] = row
    return out


def _reasons(run: dict, device: str) -> dict[tuple[str, int, str], dict]:
    cases = run["desc"]["cases"]
    out = {}
    for (case_id, dev), r in run["not_timed"].items():
        c = cases.get(case_id)
        if dev != device or c is None:
            continue
        out[(c["workload"], int(c["param"]), c["method"])] = r
    return out


class _View:
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


def render_markdown(runs: list[dict], plots: bool = True) -> str:
    """The text of report.md (what --check compares); ``plots``: link the PNGs that ``render`` draws."""
    return "\n".join(_lines(runs, None, plots)).rstrip() + "\n"


def render(runs: list[dict], out: Path, plots: bool = True) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    draw = plots
    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            draw = False
    lines = _lines(runs, out if draw else None, plots)
    if plots and not draw:
        lines += ["", "_plots not rendered: matplotlib is not installed_"]
    path = out / REPORT_NAME
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path


def _lines(runs: list[dict], out: Path | None, plots: bool) -> list[str]:
    lines = ["# Higher-order derivative cost in PyTorch: benchmarks", ""]
    lines += [
        "Generated by `python -m spec bench-report` from "
        + ", ".join(f"`{Path(r['path']).name}`" for r in runs)
        + ". Every figure is **time of the method / time of the plain forward pass** of the same network at the same "
        "points, measured in alternating blocks in the same run (so machine speed and load cancel): the mean over "
        "the rounds, with the coefficient of variation (CV) of the per-round ratios in parentheses. Lower is "
        "better; 1× would be the cost of the forward pass itself.",
        "",
    ]
    lines += _legend(runs)
    for run in runs:
        devices = sorted({dev for (_c, dev) in run["rows"]})
        for device in devices:
            lines += _section(run, device, out, plots)
        absent = sorted({dev for (_c, dev) in run["not_timed"]} - set(devices))
        for device in absent:
            why = next(r["reason"] for (_c, dev), r in sorted(run["not_timed"].items()) if dev == device)
            lines += [f"_{run['label']}: nothing timed on {device} ({why})._", ""]
    if len(runs) > 1:
        lines += _across(runs)
    return lines


def _legend(runs: list[dict]) -> list[str]:
    desc = runs[-1]["desc"]
    lines = ["<details><summary>Workloads and methods</summary>", ""]
    lines += [f"- **{w['name']}**: {w['description']}" for w in desc["workloads"]]
    lines.append("")
    lines += [f"- `{m['name']}`: {m['description']}" for m in desc["methods"]]
    lines += ["", "</details>", ""]
    return lines


def _cpu(run: dict) -> str:
    """The CPU as pytest-benchmark recorded it (brand and cores); the figures depend on it."""
    cpu = run["machine"].get("cpu") or {}
    if cpu.get("brand_raw"):
        return f"{cpu['brand_raw']}, {cpu.get('count', '?')} cores"
    return run["meta"].get("processor") or "CPU unknown"


def _slug(run: dict, device: str) -> str:
    return f"torch{run['torch']}-{device}".replace("+", "_")


def _section(run: dict, device: str, out: Path | None, plots: bool) -> list[str]:
    v = _View(run)
    orders, dims = v.p("derivative"), v.p("laplacian")
    rows, reasons = _by(run, device), _reasons(run, device)
    eager_rows = {k: r for k, r in rows.items() if k[2] in v.methods}
    meta = run["meta"]
    sizes = meta.get("sizes", {})
    any_row = next(iter(rows.values()), {})
    cvs = [r["ratio_cv"] for r in rows.values() if r.get("ratio_cv") is not None and not math.isnan(r["ratio_cv"])]
    lines = [f"## {run['label']} on {device}", ""]
    facts = [
        f"Python {meta.get('python', '?')}",
        _cpu(run),
        f"{meta.get('threads', '?')} thread(s)",
        f"clock: {any_row.get('clock', '?')}",
        f"jet-for-pytorch {meta['jet']}" if meta.get("jet") else "jet-for-pytorch not installed",
    ]
    if run.get("datetime"):
        facts.append(f"run {run['datetime'][:16].replace('T', ' ')}")
    if meta.get("wall_s") is not None:
        facts.append(f"whole run {meta['wall_s'] / 60:.1f} min")
    lines += ["; ".join(facts) + ".", ""]
    if sizes:
        lines += [
            f"Sizes: {sizes.get('points')} points, tanh MLP with hidden layers {sizes.get('hidden')}, "
            f"{sizes.get('dtype')}; each result checked against {sizes.get('reference')} before it is timed. "
            f"Peak memory: {any_row.get('memory_how', '?')}.",
            "",
        ]
    if cvs:
        over = sum(1 for c in cvs if c > 0.05)
        lines += [
            f"CV of the ratios: median {statistics.median(cvs):.1%}, max {max(cvs):.1%}; "
            f"{over} of {len(cvs)} above 5 %.",
            "",
        ]
    spreads = [(r["spread"], len(r.get("ratios") or [])) for r in rows.values()
               if r.get("spread") is not None and not math.isnan(r["spread"])]
    if spreads:
        target = (meta.get("timing") or {}).get("precision") or 0.05
        precisions = [gate_precision(sp, n, len(spreads)) for sp, n in spreads]
        met = sum(1 for h in precisions if h <= target)
        lines += [
            f"Precision for `--compare`: against a run like this one, {met} of {len(precisions)} ratios have rounds "
            f"steady enough for a per-ratio interval of ±{target:.0%} (at the per-ratio confidence that keeps a "
            "whole comparison at 99 %), so that a real 20 % slowdown of that ratio alone shows as \"slower\" at the "
            f"default 10 % threshold (median half-width {statistics.median(precisions):.1%}). That holds only if the "
            "two runs do not differ beyond their rounds: `--compare` estimates that run-to-run noise and widens the "
            "intervals by it (about 15 % between two runs on this VM, where no single ratio can show a 20 % "
            "slowdown; the pooled verdicts per method and over all ratios catch larger, broader slowdowns).",
            "",
        ]
    lines += _headline(eager_rows, v)
    # growth per order
    lines += ["### k-th derivative of u: R -> R: cost per order", ""]
    head = "| method | " + " | ".join(f"k={k}" for k in orders) + " | growth per order (geomean) |"
    lines += [head, "|---|" + "---:|" * (len(orders) + 1)]
    growth_rows = []
    for m in v.methods:
        cells = [rows.get(("derivative", k, m)) for k in orders]
        if not any(cells) and all(
            reasons.get(("derivative", k, m), {}).get("status") == "n/a" for k in orders
        ):
            continue
        growth = _growth([c["ratio"] if c else None for c in cells])
        g = _geomean([x for x in growth if x is not None])
        lines.append(
            f"| `{m}` | "
            + " | ".join(_cell(c, reasons.get(("derivative", k, m))) for c, k in zip(cells, orders, strict=True))
            + f" | {'–' if math.isnan(g) else f'{g:.2f}×'} |"
        )
        if sum(1 for c in cells if c) > 1:
            growth_rows.append((m, growth))
    lines += ["", "Growth factor per order (ratio at k / ratio at k-1): nested autograd against Taylor mode.", ""]
    lines += ["| method | " + " | ".join(f"{k - 1}→{k}" for k in orders[1:]) + " |", "|---|" + "---:|" * (len(orders) - 1)]
    for m, growth in growth_rows:
        lines.append(f"| `{m}` | " + " | ".join("–" if g is None else f"{g:.2f}" for g in growth[1:]) + " |")
    lines.append("")
    if plots:
        name = f"orders-{_slug(run, device)}.png"
        if out is not None:
            _plot_orders(eager_rows, v, out / name, f"{run['label']}, {device}")
        lines += [f"![cost vs derivative order]({name})", ""]

    # laplacian
    lines += ["### Laplacian of u: R^d -> R: methods side by side", ""]
    lines += ["| method | " + " | ".join(f"d={d}" for d in dims) + " | peak MiB (d=" + "/".join(
        map(str, dims)) + ") |", "|---|" + "---:|" * (len(dims) + 1)]
    for m in v.methods:
        cells = [rows.get(("laplacian", d, m)) for d in dims]
        rs = [reasons.get(("laplacian", d, m)) for d in dims]
        if not any(cells) and all(r is not None and r.get("status") == "n/a" for r in rs):
            lines.append(f"| `{m}` | " + " | ".join("n/a" for _ in dims) + " | – |")
            continue
        lines.append(
            f"| `{m}` | " + " | ".join(_cell(c, r) for c, r in zip(cells, rs, strict=True)) + " | "
            + " / ".join(_mib(c) for c in cells) + " |"
        )
    lines.append("")
    if plots:
        name = f"laplacian-{_slug(run, device)}.png"
        if out is not None:
            _plot_laplacian(eager_rows, v, out / name, f"{run['label']}, {device}")
        lines += [f"![Laplacian cost vs dimension]({name})", ""]

    # biharmonic and pinn step
    lines += _single_table(rows, reasons, v, "biharmonic", "### Biharmonic operator of u: R^2 -> R")
    lines += _pinn_table(rows, reasons, v)
    lines += _compiled_table(rows, reasons, v)
    lines += _memory_table(rows, v)
    lines += _not_timed(run, device)
    return lines


def _growth(ratios: list[float | None]) -> list[float | None]:
    out: list[float | None] = [None]
    for a, b in zip(ratios[:-1], ratios[1:], strict=True):
        out.append(b / a if a and b else None)
    return out


def _single_table(rows, reasons, v: _View, workload: str, title: str) -> list[str]:
    if not v.p(workload):
        return []
    p = v.p(workload)[0]
    entries = []
    for m in v.methods:
        row, reason = rows.get((workload, p, m)), reasons.get((workload, p, m))
        if row is None and reason is not None and reason.get("status") == "n/a":
            continue
        entries.append((m, row, reason))
    ranked = sorted((r["ratio"], m) for m, r, _ in entries if r)
    rank = {m: i + 1 for i, (_, m) in enumerate(ranked)}
    lines = [title, "", "| method | ratio (CV) | rank | peak MiB |", "|---|---:|---:|---:|"]
    for m, row, reason in entries:
        lines.append(f"| `{m}` | {_cell(row, reason)} | {rank.get(m, '–')} | {_mib(row)} |")
    return lines + [""]


def _pinn_table(rows, reasons, v: _View) -> list[str]:
    if not v.p("pinn_step"):
        return []
    dim = v.p("pinn_step")[0]
    step = {m: rows.get(("pinn_step", dim, m)) for m in v.methods}
    lap = {m: rows.get(("laplacian", dim, m)) for m in v.methods}

    def ranks(table):
        ordered = sorted((r["ratio"], m) for m, r in table.items() if r and step.get(m))
        return {m: i + 1 for i, (_, m) in enumerate(ordered)}

    rs, rl = ranks(step), ranks(lap)
    lines = [
        f"### One PINN training step (Poisson, d = {dim}): the rank changes",
        "",
        f"Rank among the methods timed in both, for the whole step and for the Laplacian alone (d = {dim}).",
        "",
        "| method | step ratio (CV) | rank (step) | Laplacian alone (CV) | rank (Laplacian) | peak MiB (step) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m in v.methods:
        row, reason = step[m], reasons.get(("pinn_step", dim, m))
        if row is None and reason is not None and reason.get("status") == "n/a":
            continue
        lines.append(
            f"| `{m}` | {_cell(row, reason)} | {rs.get(m, '–')} | {_cell(lap[m], reasons.get(('laplacian', dim, m)))} "
            f"| {rl.get(m, '–')} | {_mib(row)} |"
        )
    return lines + [""]


def _compiled_table(rows, reasons, v: _View) -> list[str]:
    """Compiled methods beside their eager method: steady-state ratios, and the compile (first call) apart."""
    entries = []
    for c in v.cases.values():
        spec = next((m for m in v.compiled if m["name"] == c["method"]), None)
        if spec is None:
            continue
        key = (c["workload"], int(c["param"]), c["method"])
        row, reason = rows.get(key), reasons.get(key)
        if row is None and (reason is None or reason.get("status") == "n/a"):
            continue
        eager = rows.get((c["workload"], int(c["param"]), spec["compiled_from"]))
        entries.append((c, spec, row, reason, eager))
    if not entries:
        return []
    lines = [
        "### Compiled (torch.compile) beside eager: steady state, compile time apart",
        "",
        "The compiled ratio is the steady state (the first call, which compiles, is not in it); the compile is "
        "that first call's wall time, C++ compiler included. Each compiled result is checked against the float64 "
        "reference before it is timed.",
        "",
        "| case | eager ratio (CV) | compiled ratio (CV) | compiled / eager | compile s (first call) |",
        "|---|---:|---:|---:|---:|",
    ]
    for c, spec, row, reason, eager in entries:
        name = f"{c['workload']} {v.pnames.get(c['workload'], '')}={c['param']}: `{spec['compiled_from']}`"
        if row is None:
            status, why = reason.get("status", "not timed"), reason.get("reason", "").replace("|", "/")
            why = why if why.startswith(status) else f"{status}: {why}"
            lines.append(f"| {name} | {_cell(eager)} | {why} | – | – |")
            continue
        speed = f"{row['ratio'] / eager['ratio']:.2f}" if eager else "–"
        comp = row.get("compile_seconds")
        lines.append(f"| {name} | {_cell(eager)} | {_cell(row)} | {speed} | "
                     f"{'–' if comp is None else f'{comp:.1f}'} |")
    return lines + [""]


def _memory_table(rows, v: _View) -> list[str]:
    orders = v.p("derivative")
    lines = [
        "### Peak memory of the k-th derivative (MiB)",
        "",
        "| method | " + " | ".join(f"k={k}" for k in orders) + " |",
        "|---|" + "---:|" * len(orders),
    ]
    for m in v.methods:
        cells = [rows.get(("derivative", k, m)) for k in orders]
        if any(cells):
            lines.append(f"| `{m}` | " + " | ".join(_mib(c) for c in cells) + " |")
    fwd = [r.get("forward_peak_bytes") for r in rows.values() if r.get("forward_peak_bytes") is not None]
    if fwd:
        lines += ["", f"The plain forward pass peaks at {max(fwd) / 2**20:.1f} MiB at most. RSS-based figures below "
                  "about 1 MiB are at the resolution of the method (whole pages, allocator reuse)."]
    return lines + [""]


def _not_timed(run: dict, device: str) -> list[str]:
    items = [r for (c, dev), r in sorted(run["not_timed"].items()) if dev == device]
    if not items:
        return []
    cases = run["desc"]["cases"]
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in items:
        reason = r["reason"]
        if r["status"] == "n/a":  # the registry's wording at the time of the run
            reason = (cases.get(r["case"]) or {}).get("na") or reason
        grouped[(r["status"], reason.replace("|", "/"))].append(r["case"])
    lines = ["### Not timed", "", "| status | reason | cases |", "|---|---|---|"]
    for (status, reason), names in sorted(grouped.items(), key=lambda kv: (kv[0][0] != "failed", kv[0])):
        lines.append(f"| {status} | {reason} | {', '.join(names)} |")
    return lines + [""]


def _headline(rows: dict, v: _View) -> list[str]:
    """One paragraph: growth per order of the headline methods; the best Laplacian at the largest d."""
    orders, dims = v.p("derivative"), v.p("laplacian")
    parts = []
    for m, label in v.headline:
        ratios = [rows.get(("derivative", k, m)) for k in orders]
        if ratios and all(ratios):
            g = _geomean([x for x in _growth([r["ratio"] for r in ratios])[1:] if x])
            parts.append(f"{label} grows {g:.2f}× per order (k = {orders[-1]}: {ratios[-1]['ratio']:.0f}× the forward pass)")
    lines = []
    if parts:
        lines.append("**Headline.** k-th derivative: " + "; ".join(parts) + ".")
    lap = sorted((r["ratio"], m) for (w, dd, m), r in rows.items() if dims and w == "laplacian" and dd == dims[-1])
    if lap:
        best = ", ".join(f"`{m}` {x:.0f}×" for x, m in lap[:3])
        lines.append(f"Laplacian at d = {dims[-1]}, fastest first: {best}; slowest `{lap[-1][1]}` {lap[-1][0]:.0f}×.")
    return [" ".join(lines), ""] if lines else []


def _across(runs: list[dict]) -> list[str]:
    keys = sorted({k for r in runs for k in r["rows"]})
    lines = ["## Across torch versions", "", "| case | device | " + " | ".join(r["label"] for r in runs) + " |",
             "|---|---|" + "---:|" * len(runs)]
    for key in keys:
        lines.append(f"| {key[0]} | {key[1]} | " + " | ".join(_cell(r["rows"].get(key)) for r in runs) + " |")
    return lines + [""]


# ---- plots -----------------------------------------------------------------------------------


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=80)
    return plt, fig, ax


def _bold(v: _View) -> set[str]:
    return {m for m, _ in v.headline}


def _plot_orders(rows, v: _View, path: Path, title: str) -> None:
    plt, fig, ax = _figure()
    series = defaultdict(list)
    for (w, k, m), row in rows.items():
        if w == "derivative":
            series[m].append((k, row["ratio"]))
    for m in v.methods:
        pts = sorted(series.get(m, []))
        if len(pts) < 2:
            continue
        style = {"linewidth": 2.5} if m in _bold(v) else {"linewidth": 1, "alpha": 0.8}
        ax.plot([k for k, _ in pts], [r for _, r in pts], marker="o", label=m, **style)
    for m in v.methods:  # single points (k = 2 only methods)
        pts = series.get(m, [])
        if len(pts) == 1:
            ax.scatter([pts[0][0]], [pts[0][1]], marker="x", label=m)
    ax.set_yscale("log")
    ax.set_xticks(list(v.p("derivative")))
    ax.set_xlabel("derivative order k")
    ax.set_ylabel("time / forward time")
    ax.set_title(f"k-th derivative of u: R->R, {title}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_laplacian(rows, v: _View, path: Path, title: str) -> None:
    dims = v.p("laplacian")
    plt, fig, ax = _figure()
    for m in v.methods:
        pts = sorted((d, r["ratio"]) for (w, d, mm), r in rows.items() if w == "laplacian" and mm == m)
        if not pts:
            continue
        style = {"linewidth": 2.5} if m in _bold(v) else {"linewidth": 1, "alpha": 0.8}
        ax.plot([d for d, _ in pts], [r for _, r in pts], marker="o", label=m, **style)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(list(dims), [str(d) for d in dims])
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("time / forward time")
    ax.set_title(f"Laplacian of u: R^d->R, {title}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
