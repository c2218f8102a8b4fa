"""``python -m spec bench-report``: render the benchmark JSON; compare two torch versions.

Render (Markdown table + PNG plots, one section per input file, i.e. per torch version):

    python -m spec bench-report results/bench/bench-torch2.15.0.json [MORE.json ...] --out results/bench/report

Compare (exit 1 when a ratio got worse by more than the threshold, or a method that was
timed in OLD fails its correctness check in NEW):

    python -m spec bench-report --compare OLD.json NEW.json [--threshold 0.2] [--out compare.md]

The input is what ``pytest tests/bench --benchmark-json PATH`` writes. Every figure is a
ratio: method time / plain forward time measured in the same rounds.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

DEFAULT_THRESHOLD = 0.20
DEFAULT_OUT = "results/bench/report"
REPORT_NAME = "report.md"


def configure(parser) -> None:
    parser.add_argument("results", nargs="*", metavar="RESULTS.json", help="pytest-benchmark JSON from tests/bench")
    parser.add_argument(
        "--compare", nargs=2, metavar=("OLD", "NEW"), help="compare two runs (e.g. two torch versions) instead"
    )
    parser.add_argument(
        "--threshold",
        default=str(DEFAULT_THRESHOLD),
        help="with --compare: flag a ratio that grew by more than this fraction (0.2 or 20%%; default 0.2)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help=f"render: the folder for {REPORT_NAME} and the PNGs (default {DEFAULT_OUT}); "
        "compare: also write the comparison as Markdown to this file",
    )
    parser.add_argument("--no-plots", action="store_true", help="render the Markdown only")


def run(args) -> int:
    from spec.__main__ import CommandError

    if args.compare:
        if args.results:
            raise CommandError("give either RESULTS.json files to render or --compare OLD NEW, not both")
        threshold = parse_threshold(args.threshold)
        old, new = (load(p) for p in args.compare)
        result = compare(old, new, threshold)
        text = "\n".join(compare_lines(result, old, new, threshold))
        print(text)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(text + "\n")
        return 1 if result["regressions"] else 0
    if not args.results:
        raise CommandError("nothing to do: give RESULTS.json files to render, or --compare OLD NEW")
    runs = [load(p) for p in args.results]
    out = Path(args.out or DEFAULT_OUT)
    path = render(runs, out, plots=not args.no_plots)
    print(f"wrote {path}")
    return 0


# ----------------------------------------------------------------------------------------------
# loading


def parse_threshold(text: str) -> float:
    from spec.__main__ import CommandError

    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise CommandError(f"--threshold: not a number: {text!r} (use 0.2 or 20%)") from None
    if not (value > 0 and math.isfinite(value)):
        raise CommandError(f"--threshold must be positive, not {text!r}")
    return value


def load(path: str | Path) -> dict[str, Any]:
    """A run: {path, label, meta, rows: {(case, device): row}, not_timed: {...}}."""
    from spec.__main__ import CommandError

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
    }


# ----------------------------------------------------------------------------------------------
# comparison


def compare(old: dict, new: dict, threshold: float) -> dict[str, Any]:
    """Every case timed in both, with its change; regressions: worse by more than ``threshold``, or
    timed in OLD and failing its correctness check in NEW."""
    changes, regressions, missing = [], [], []
    for key, o in sorted(old["rows"].items()):
        n = new["rows"].get(key)
        if n is None:
            status = new["not_timed"].get(key, {}).get("status", "absent")
            reason = new["not_timed"].get(key, {}).get("reason", "not in NEW")
            entry = {"case": key[0], "device": key[1], "old": o["ratio"], "status": status, "reason": reason}
            (regressions if status == "failed" else missing).append(entry)
            continue
        change = n["ratio"] / o["ratio"] - 1
        entry = {
            "case": key[0],
            "device": key[1],
            "old": o["ratio"],
            "new": n["ratio"],
            "old_cv": o.get("ratio_cv"),
            "new_cv": n.get("ratio_cv"),
            "change": change,
            "status": "slower" if change > threshold else "ok",
        }
        changes.append(entry)
        if change > threshold:
            regressions.append(entry)
    return {"changes": changes, "regressions": regressions, "missing": missing}


def compare_lines(result: dict, old: dict, new: dict, threshold: float) -> list[str]:
    lines = [
        f"# Benchmark comparison: {old['label']} -> {new['label']}",
        "",
        f"OLD: `{old['path']}`  NEW: `{new['path']}`  threshold: a ratio (method / forward) more than "
        f"{threshold:.0%} larger is a regression.",
        "",
        "| case | device | OLD ratio (CV) | NEW ratio (CV) | change | |",
        "|---|---|---:|---:|---:|---|",
    ]
    for c in result["changes"]:
        flag = f"**SLOWER by more than {threshold:.0%}**" if c["status"] == "slower" else ""
        lines.append(
            f"| {c['case']} | {c['device']} | {c['old']:.2f} ({_pct(c['old_cv'])}) | {c['new']:.2f} "
            f"({_pct(c['new_cv'])}) | {c['change']:+.1%} | {flag} |"
        )
    absent = [m for m in result["missing"] if m["status"] == "absent"]
    for m in result["missing"]:
        if m["status"] != "absent":
            lines.append(f"| {m['case']} | {m['device']} | {m['old']:.2f} | not timed ({m['status']}) | | {m['reason']} |")
    for r in result["regressions"]:
        if "new" not in r:
            lines.append(f"| {r['case']} | {r['device']} | {r['old']:.2f} | **FAILED** | | {r['reason']} |")
    lines.append("")
    if absent:
        lines += [f"{len(absent)} case(s) timed in OLD are not in NEW at all (a subset run?): not compared.", ""]
    n_slow = sum(1 for r in result["regressions"] if "new" in r)
    n_failed = len(result["regressions"]) - n_slow
    if result["regressions"]:
        lines.append(f"REGRESSION: {n_slow} ratio(s) worse by more than {threshold:.0%}, {n_failed} method(s) "
                     "now failing their correctness check.")
    else:
        lines.append(f"OK: no ratio worse by more than {threshold:.0%} ({len(result['changes'])} compared).")
    return lines


# ----------------------------------------------------------------------------------------------
# rendering


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
    from spec.bench_workloads import parse_case_id

    out = {}
    for (case_id, dev), r in run["not_timed"].items():
        if dev != device:
            continue
        try:
            c = parse_case_id(case_id)
        except KeyError:
            continue
        out[(c.workload, c.param, c.method)] = r
    return out


def render(runs: list[dict], out: Path, plots: bool = True) -> Path:
    out.mkdir(parents=True, exist_ok=True)
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
    lines += _legend()
    plot_note = None
    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            plots, plot_note = False, "plots not rendered: matplotlib is not installed"
    for run in runs:
        devices = sorted({dev for (_c, dev) in run["rows"]})
        for device in devices:
            lines += _section(run, device, out, plots)
        absent = sorted({dev for (_c, dev) in run["not_timed"]} - set(devices))
        for device in absent:
            why = next(r["reason"] for (_c, dev), r in sorted(run["not_timed"].items()) if dev == device)
            lines += [f"_{run['label']}: nothing timed on {device} ({why})._", ""]
    if plot_note:
        lines += ["", f"_{plot_note}_"]
    if len(runs) > 1:
        lines += _across(runs)
    path = out / REPORT_NAME
    path.write_text("\n".join(lines).rstrip() + "\n")
    return path


def _legend() -> list[str]:
    from spec.bench_workloads import METHODS, WORKLOADS

    lines = ["<details><summary>Workloads and methods</summary>", ""]
    lines += [f"- **{w}**: {text}" for w, text in WORKLOADS.items()]
    lines.append("")
    lines += [f"- `{m}`: {text}" for m, text in METHODS.items()]
    lines += ["", "</details>", ""]
    return lines


def _slug(run: dict, device: str) -> str:
    return f"torch{run['torch']}-{device}".replace("+", "_")


def _section(run: dict, device: str, out: Path, plots: bool) -> list[str]:
    from spec.bench_workloads import LAPLACIAN_DIMS, METHOD_ORDER, ORDERS

    rows, reasons = _by(run, device), _reasons(run, device)
    meta = run["meta"]
    sizes = meta.get("sizes", {})
    any_row = next(iter(rows.values()), {})
    cvs = [r["ratio_cv"] for r in rows.values() if r.get("ratio_cv") is not None and not math.isnan(r["ratio_cv"])]
    lines = [f"## {run['label']} on {device}", ""]
    facts = [
        f"Python {meta.get('python', '?')}",
        f"{meta.get('processor') or run['machine'].get('cpu', {}).get('brand_raw', '?')}",
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
            f"{over} of {len(cvs)} above the 5 % target.",
            "",
        ]

    lines += _headline(rows)
    # growth per order
    lines += ["### k-th derivative of u: R -> R: cost per order", ""]
    head = "| method | " + " | ".join(f"k={k}" for k in ORDERS) + " | growth per order (geomean) |"
    lines += [head, "|---|" + "---:|" * (len(ORDERS) + 1)]
    growth_rows = []
    for m in METHOD_ORDER:
        cells = [rows.get(("derivative", k, m)) for k in ORDERS]
        if not any(cells) and all(
            reasons.get(("derivative", k, m), {}).get("status") == "n/a" for k in ORDERS
        ):
            continue
        growth = _growth([c["ratio"] if c else None for c in cells])
        g = _geomean([x for x in growth if x is not None])
        lines.append(
            f"| `{m}` | "
            + " | ".join(_cell(c, reasons.get(("derivative", k, m))) for c, k in zip(cells, ORDERS, strict=True))
            + f" | {'–' if math.isnan(g) else f'{g:.2f}×'} |"
        )
        growth_rows.append((m, growth))
    lines += ["", "Growth factor per order (ratio at k / ratio at k-1): nested autograd against Taylor mode.", ""]
    lines += ["| method | " + " | ".join(f"{k - 1}→{k}" for k in ORDERS[1:]) + " |", "|---|" + "---:|" * (len(ORDERS) - 1)]
    for m, growth in growth_rows:
        if m in ("nested_grad", "jet", "analytic", "forward_ad", "func_jacrev", "func_jacfwd", "func_jvp_grad"):
            lines.append(f"| `{m}` | " + " | ".join("–" if g is None else f"{g:.2f}" for g in growth[1:]) + " |")
    lines.append("")
    if plots:
        name = f"orders-{_slug(run, device)}.png"
        _plot_orders(rows, out / name, f"{run['label']}, {device}")
        lines += [f"![cost vs derivative order]({name})", ""]

    # laplacian
    lines += ["### Laplacian of u: R^d -> R: methods side by side", ""]
    lines += ["| method | " + " | ".join(f"d={d}" for d in LAPLACIAN_DIMS) + " | peak MiB (d=" + "/".join(
        map(str, LAPLACIAN_DIMS)) + ") |", "|---|" + "---:|" * (len(LAPLACIAN_DIMS) + 1)]
    for m in METHOD_ORDER:
        cells = [rows.get(("laplacian", d, m)) for d in LAPLACIAN_DIMS]
        rs = [reasons.get(("laplacian", d, m)) for d in LAPLACIAN_DIMS]
        if not any(cells) and all(r is not None and r.get("status") == "n/a" for r in rs):
            lines.append(f"| `{m}` | " + " | ".join("n/a" for _ in LAPLACIAN_DIMS) + " | – |")
            continue
        lines.append(
            f"| `{m}` | " + " | ".join(_cell(c, r) for c, r in zip(cells, rs, strict=True)) + " | "
            + " / ".join(_mib(c) for c in cells) + " |"
        )
    lines.append("")
    if plots:
        name = f"laplacian-{_slug(run, device)}.png"
        _plot_laplacian(rows, out / name, f"{run['label']}, {device}")
        lines += [f"![Laplacian cost vs dimension]({name})", ""]

    # biharmonic and pinn step
    lines += _single_table(rows, reasons, "biharmonic", "### Biharmonic operator of u: R^2 -> R")
    lines += _pinn_table(rows, reasons)
    lines += _memory_table(rows)
    lines += _not_timed(run, device)
    return lines


def _growth(ratios: list[float | None]) -> list[float | None]:
    out: list[float | None] = [None]
    for a, b in zip(ratios[:-1], ratios[1:], strict=True):
        out.append(b / a if a and b else None)
    return out


def _single_table(rows, reasons, workload: str, title: str) -> list[str]:
    from spec.bench_workloads import METHOD_ORDER, PARAMS

    p = PARAMS[workload][0]
    entries = []
    for m in METHOD_ORDER:
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


def _pinn_table(rows, reasons) -> list[str]:
    from spec.bench_workloads import METHOD_ORDER, PINN_DIM

    step = {m: rows.get(("pinn_step", PINN_DIM, m)) for m in METHOD_ORDER}
    lap = {m: rows.get(("laplacian", PINN_DIM, m)) for m in METHOD_ORDER}

    def ranks(table):
        ordered = sorted((r["ratio"], m) for m, r in table.items() if r and step.get(m))
        return {m: i + 1 for i, (_, m) in enumerate(ordered)}

    rs, rl = ranks(step), ranks(lap)
    lines = [
        f"### One PINN training step (Poisson, d = {PINN_DIM}): the rank changes",
        "",
        f"Rank among the methods timed in both, for the whole step and for the Laplacian alone (d = {PINN_DIM}).",
        "",
        "| method | step ratio (CV) | rank (step) | Laplacian alone (CV) | rank (Laplacian) | peak MiB (step) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for m in METHOD_ORDER:
        row, reason = step[m], reasons.get(("pinn_step", PINN_DIM, m))
        if row is None and reason is not None and reason.get("status") == "n/a":
            continue
        lines.append(
            f"| `{m}` | {_cell(row, reason)} | {rs.get(m, '–')} | {_cell(lap[m], reasons.get(('laplacian', PINN_DIM, m)))} "
            f"| {rl.get(m, '–')} | {_mib(row)} |"
        )
    return lines + [""]


def _memory_table(rows) -> list[str]:
    from spec.bench_workloads import METHOD_ORDER, ORDERS

    lines = [
        "### Peak memory of the k-th derivative (MiB)",
        "",
        "| method | " + " | ".join(f"k={k}" for k in ORDERS) + " |",
        "|---|" + "---:|" * len(ORDERS),
    ]
    for m in METHOD_ORDER:
        cells = [rows.get(("derivative", k, m)) for k in ORDERS]
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
    from spec.bench_workloads import parse_case_id

    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in items:
        reason = r["reason"]
        if r["status"] == "n/a":  # the registry's current wording
            try:
                reason = parse_case_id(r["case"]).na_reason or reason
            except KeyError:
                pass
        grouped[(r["status"], reason.replace("|", "/"))].append(r["case"])
    lines = ["### Not timed", "", "| status | reason | cases |", "|---|---|---|"]
    for (status, reason), cases in sorted(grouped.items(), key=lambda kv: (kv[0][0] != "failed", kv[0])):
        lines.append(f"| {status} | {reason} | {', '.join(cases)} |")
    return lines + [""]


def _headline(rows: dict) -> list[str]:
    """One paragraph: growth per order, nested autograd against Taylor mode; the best Laplacian at the largest d."""
    from spec.bench_workloads import LAPLACIAN_DIMS, ORDERS

    parts = []
    for m, label in (("nested_grad", "nested autograd"), ("jet", "Taylor mode (jet)"), ("analytic", "hand-written Taylor")):
        ratios = [rows.get(("derivative", k, m)) for k in ORDERS]
        if all(ratios):
            g = _geomean([x for x in _growth([r["ratio"] for r in ratios])[1:] if x])
            parts.append(f"{label} grows {g:.2f}× per order (k = {ORDERS[-1]}: {ratios[-1]['ratio']:.0f}× the forward pass)")
    lines = []
    if parts:
        lines.append("**Headline.** k-th derivative: " + "; ".join(parts) + ".")
    d = LAPLACIAN_DIMS[-1]
    lap = sorted((r["ratio"], m) for (w, dd, m), r in rows.items() if w == "laplacian" and dd == d)
    if lap:
        best = ", ".join(f"`{m}` {x:.0f}×" for x, m in lap[:3])
        lines.append(f"Laplacian at d = {d}, fastest first: {best}; slowest `{lap[-1][1]}` {lap[-1][0]:.0f}×.")
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


def _plot_orders(rows, path: Path, title: str) -> None:
    from spec.bench_workloads import METHOD_ORDER, ORDERS

    plt, fig, ax = _figure()
    series = defaultdict(list)
    for (w, k, m), row in rows.items():
        if w == "derivative":
            series[m].append((k, row["ratio"]))
    for m in METHOD_ORDER:
        pts = sorted(series.get(m, []))
        if len(pts) < 2:
            continue
        style = {"linewidth": 2.5} if m in ("nested_grad", "jet", "analytic") else {"linewidth": 1, "alpha": 0.8}
        ax.plot([k for k, _ in pts], [r for _, r in pts], marker="o", label=m, **style)
    for m in METHOD_ORDER:  # single points (k = 2 only methods)
        pts = series.get(m, [])
        if len(pts) == 1:
            ax.scatter([pts[0][0]], [pts[0][1]], marker="x", label=m)
    ax.set_yscale("log")
    ax.set_xticks(list(ORDERS))
    ax.set_xlabel("derivative order k")
    ax.set_ylabel("time / forward time")
    ax.set_title(f"k-th derivative of u: R->R, {title}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_laplacian(rows, path: Path, title: str) -> None:
    from spec.bench_workloads import LAPLACIAN_DIMS, METHOD_ORDER

    plt, fig, ax = _figure()
    for m in METHOD_ORDER:
        pts = sorted((d, r["ratio"]) for (w, d, mm), r in rows.items() if w == "laplacian" and mm == m)
        if not pts:
            continue
        style = {"linewidth": 2.5} if m in ("nested_grad", "jet", "analytic") else {"linewidth": 1, "alpha": 0.8}
        ax.plot([d for d, _ in pts], [r for _, r in pts], marker="o", label=m, **style)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(list(LAPLACIAN_DIMS), [str(d) for d in LAPLACIAN_DIMS])
    ax.set_xlabel("input dimension d")
    ax.set_ylabel("time / forward time")
    ax.set_title(f"Laplacian of u: R^d->R, {title}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
