"""``python -m spec bench-report``: render the benchmark JSON; compare two runs with their noise; check staleness.

Render (Markdown table + PNG plots, one section per input file, i.e. per torch version):

    python -m spec bench-report results/bench/bench-torch2.15.0.json [MORE.json ...] --out results/bench/report

Check (write nothing; exit 1 when ``OUT/report.md`` differs from a fresh rendering, like the claim book):

    python -m spec bench-report docs/bench/bench-torch2.15.0.json --out docs/bench --check

Compare (exit 1 when a ratio, a method's ratios pooled, or all ratios pooled are *measurably* slower
by more than the threshold, or a method that was timed in OLD now disagrees with the float64
reference; exit 2 when the runs come from different machines):

    python -m spec bench-report --compare OLD.json NEW.json [--threshold 10%] [--confidence 0.99]
        [--run-noise auto] [--any-machine] [--out compare.md]

The input is what ``pytest tests/bench --benchmark-json PATH`` writes. Every figure is a
ratio: method time / plain forward time measured in the same rounds. This module reads
everything it shows from the JSON (workload and method descriptions, sizes, orders, n/a
reasons: the ``autograd_spec`` section, schema 2); it never imports the benchmarks or torch.

How the comparison decides. Each timed case stores its per-round ratios (5 to 40 rounds). The
change NEW/OLD of a ratio is a shift of the log ratios, and the rounds give its confidence interval
the Mann-Whitney way (the Hodges-Lehmann / Moses interval): the sorted pairwise differences
log(new_i) - log(old_j), cut at the exact critical value of the U statistic for these round
counts. Why this and not a bootstrap: with 5 rounds a percentile bootstrap of the median
undercovers, and it needs a seed; the rank interval has exact coverage for any distribution of
the rounds (only a common shift is assumed), is deterministic, and is robust to a round another
process interrupted. With 4 rounds or fewer on a side no interval at 99 % exists: "not measurable".

The rounds only see the noise inside one run. Two runs of one torch on one machine also differ by
a bias per ratio (two runs on the 2-core Xeon VM: the log changes of the medians had a robust
spread of 9.5 % and heavy tails, up to 45 %, where a round's spread has a median of 3.8 %). So the comparison estimates that run-to-run
noise from the two runs themselves: tau = the smallest spread for which the 95th percentile of
the log changes' distances from their median, each over sqrt(its rounds' variance + tau^2), is
1.96 (``run_noise``); with fewer than
20 ratios it is not estimated and ``DEFAULT_RUN_NOISE`` (the value measured here) stands in, or
``--run-noise``. Each ratio's interval is widened to half-width sqrt(h^2 + (z tau)^2), h the
rounds' half-width, at the per-ratio confidence 1 - (1 - c) / N (Bonferroni over the N ratios,
so that two runs of one torch raise no alarm at c). The 95th percentile is robust to 5 % of ratios
that really changed; a change of every ratio alike moves the median, not the spread, so it stays
visible. The model is normal: with heavier tails (Student-t, 3 degrees of freedom) 3 of 30
simulated pairs of one torch still called one ratio "slower"; the pooled verdicts raised none.

Verdicts, for a threshold t (default 10 %) and confidence c (default 99 %):

* per ratio: **slower** when the whole interval lies above 1 + t; ok when wholly below; else
  **not measurable at this noise**;
* per method (its ratios over all workloads: a torch change usually hits a method everywhere) and
  over all ratios: the inverse-variance weighted mean of the log changes, with the normal
  interval of that mean, judged the same way (Bonferroni over the methods). A whole run can also
  shift: two pairs of runs of one torch differed by -2.0 % and +9.2 % over all ratios, which no
  comparison can tell from torch's doing; the pooled intervals include such a shift
  (``DEFAULT_RUN_SHIFT`` = 6.7 %, ``--run-shift``). So on this VM one ratio cannot show a 20 %
  slowdown, and the pooled verdicts catch only large ones: see the README for the measured power.

The run exits 1 when a ratio, a method or the whole run is "slower", or a method timed in OLD now
fails its correctness check. ``tests/meta/test_bench_report.py`` proves both sides on synthetic
runs with and without run-to-run noise and on rounds resampled from the committed run.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

from spec.errors import CommandError

DEFAULT_THRESHOLD = 0.10
DEFAULT_CONFIDENCE = 0.99
#: the run-to-run noise (log scale) used when fewer than MIN_RATIOS_FOR_RUN_NOISE ratios are compared: what
#: ``run_noise`` estimated between two runs of torch 2.15.0 on the 2-core Xeon VM (2026-11-28; 79 ratios: 14.9 %,
#: 20 ratios of two other runs: 15.8 %)
DEFAULT_RUN_NOISE = 0.15
MIN_RATIOS_FOR_RUN_NOISE = 20
#: a shift of all ratios of a run together (log scale), which no comparison of two runs can tell from a change of
#: torch: two pairs of runs of torch 2.15.0 on the 2-core Xeon VM differed over all ratios by -2.0 % and +9.2 %
#: (the root mean square: 6.7 %). It widens the pooled verdicts (per method, all ratios); --run-shift overrides it.
DEFAULT_RUN_SHIFT = 0.067
RUN_NOISE_QUANTILE = 0.95
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
        help="with --compare: a ratio is 'slower' when its whole confidence interval lies above 1 + this fraction "
        "(0.1 or 10%%; default 10%%)",
    )
    parser.add_argument(
        "--confidence",
        default=str(DEFAULT_CONFIDENCE),
        help="with --compare: the chance that two runs of one torch raise no alarm (default 0.99); each ratio and each "
        "method is judged at the Bonferroni share of it",
    )
    parser.add_argument(
        "--out",
        default=None,
        help=f"render: the folder for {REPORT_NAME} and the PNGs (default {DEFAULT_OUT}); "
        "compare: also write the comparison as Markdown to this file",
    )
    parser.add_argument(
        "--run-noise",
        default="auto",
        help="with --compare: the run-to-run noise of a ratio (log scale, e.g. 0.1); default auto: estimated from "
        f"the two runs, or {DEFAULT_RUN_NOISE:g} below {MIN_RATIOS_FOR_RUN_NOISE} ratios",
    )
    parser.add_argument(
        "--run-shift",
        default=str(DEFAULT_RUN_SHIFT),
        help="with --compare: the spread of a shift of all ratios of a run together (log scale), which widens the "
        f"pooled verdicts (default {DEFAULT_RUN_SHIFT:g}, measured)",
    )
    parser.add_argument(
        "--any-machine",
        action="store_true",
        help="with --compare: compare runs made on different machines (CPU, thread count, sizes, clock or timing "
        "plan differ); "
        "without it that is an error, because the change would be the machine's, not torch's",
    )
    parser.add_argument("--no-plots", action="store_true", help="render the Markdown only")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"render: write nothing; exit 1 when OUT/{REPORT_NAME} differs from a fresh rendering",
    )


def run(args) -> int:
    if args.compare:
        if args.results:
            raise CommandError("give either RESULTS.json files to render or --compare OLD NEW, not both")
        if args.check:
            raise CommandError("--check checks a rendered report; it does not go with --compare")
        threshold = parse_threshold(args.threshold)
        confidence = parse_confidence(args.confidence)
        old, new = (load(p) for p in args.compare)
        differs = machine_differences(old, new)
        if differs and not args.any_machine:
            raise CommandError("OLD and NEW ran on different machines (" + "; ".join(differs) + "): their ratios "
                               "are not comparable (pass --any-machine to compare them anyway)")
        run_noise = None if args.run_noise == "auto" else parse_spread(args.run_noise, "--run-noise")
        result = compare(old, new, threshold, confidence, run_noise, parse_spread(args.run_shift, "--run-shift"))
        result["machine_differences"] = differs
        text = "\n".join(compare_lines(result, old, new, threshold, confidence))
        print(text)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(text + "\n")
        return 1 if result["regressions"] or result["pooled_regressions"] else 0
    if not args.results:
        raise CommandError("nothing to do: give RESULTS.json files to render, or --compare OLD NEW")
    runs = [load(p) for p in args.results]
    out = Path(args.out or DEFAULT_OUT)
    if args.check:
        fresh = render_markdown(runs, plots=not args.no_plots)
        path = out / REPORT_NAME
        if not path.is_file() or path.read_text(encoding="utf-8") != fresh:
            why = "missing" if not path.is_file() else "differs"
            print(f"the benchmark report {path} is stale ({why}); regenerate it with: python -m spec bench-report "
                  f"{' '.join(args.results)} --out {out}")
            return 1
        print(f"the benchmark report {path} is up to date")
        return 0
    path = render(runs, out, plots=not args.no_plots)
    print(f"wrote {path}")
    return 0


# ----------------------------------------------------------------------------------------------
# loading


def parse_threshold(text: str) -> float:
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise CommandError(f"--threshold: not a number: {text!r} (use 0.1 or 10%)") from None
    if not (value > 0 and math.isfinite(value)):
        raise CommandError(f"--threshold must be positive, not {text!r}")
    return value


def parse_spread(text: str, flag: str) -> float:
    """A spread on the log scale for ``--run-noise`` or ``--run-shift``: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise CommandError(f"{flag}: not a number: {text!r} (use a spread like 0.1)") from None
    if not 0 <= value < 1:
        raise CommandError(f"{flag}: {text} is not in [0, 1)")
    return value


def parse_confidence(text: str) -> float:
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise CommandError(f"--confidence: not a number: {text!r} (use 0.99 or 99%)") from None
    if not 0.5 <= value < 1:
        raise CommandError(f"--confidence must be at least 0.5 and below 1, not {text!r}")
    return value


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


# ----------------------------------------------------------------------------------------------
# comparison


@cache
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the C(m+n, m) orderings of two samples give each value of the Mann-Whitney U (0..m*n)."""
    if m == 0 or n == 0:
        return (1,)
    out = [0] * (m * n + 1)
    for u, c in enumerate(_u_counts(m - 1, n)):  # the largest value is from the first sample: it beats all n
        out[u + n] += c
    for u, c in enumerate(_u_counts(m, n - 1)):
        out[u] += c
    return tuple(out)


def _u_critical(m: int, n: int, confidence: float) -> int:
    """The largest k with P(U <= k - 1) <= (1 - confidence) / 2 (0: no interval at this confidence)."""
    counts = _u_counts(m, n)
    total, tail, cum, k = sum(counts), (1 - confidence) / 2, 0, 0
    for u, c in enumerate(counts):
        cum += c
        if cum / total > tail + 1e-12:
            break
        k = u + 1
    return k


def ratio_interval(old: list[float], new: list[float], confidence: float) -> tuple[float, float, float]:
    """NEW/OLD: the Hodges-Lehmann estimate and the distribution-free (Mann-Whitney) confidence interval.

    The interval is (0, inf) when the rounds are too few for ``confidence``.
    """
    diffs = sorted(math.log(b) - math.log(a) for a in old for b in new)
    point = math.exp(statistics.median(diffs))
    k = _u_critical(len(old), len(new), confidence)
    if k == 0:
        return point, 0.0, math.inf
    return point, math.exp(diffs[k - 1]), math.exp(diffs[-k])


def verdict(low: float, high: float, threshold: float) -> str:
    if low > 1 + threshold:
        return "slower"
    if high < 1 + threshold:
        return "ok"
    return "not measurable"


def _rounds(row: dict) -> list[float]:
    return [float(r) for r in row.get("ratios") or [] if r and r > 0]


def _z(confidence: float) -> float:
    return statistics.NormalDist().inv_cdf((1 + confidence) / 2)


def run_noise(changes: list[dict], confidence: float) -> tuple[float | None, int]:
    """tau: the run-to-run spread of a ratio's log change beyond its rounds' (None below MIN_RATIOS_FOR_RUN_NOISE).

    The smallest tau >= 0 for which the 95th percentile of |change - median| / sqrt(se^2 + tau^2) is at most
    1.96 (se: each ratio's own spread from its rounds): the standardized changes then look like normal noise
    in the body and the shoulders. Robust to 5 % of ratios that really changed.
    """
    usable = [c for c in changes if math.isfinite(c["within_half"])]
    if len(usable) < MIN_RATIOS_FOR_RUN_NOISE:
        return None, len(usable)
    logs = [math.log(c["change"]) for c in usable]
    center = statistics.median(logs)
    z_within, z_q = _z(confidence), _z(RUN_NOISE_QUANTILE)
    pairs = [(abs(v - center), c["within_half"] / z_within) for v, c in zip(logs, usable)]
    index = min(len(pairs) - 1, int(RUN_NOISE_QUANTILE * len(pairs)))

    def quantile(tau: float) -> float:
        scaled = sorted(d / math.sqrt(se * se + tau * tau) if se * se + tau * tau > 0 else math.inf for d, se in pairs)
        return scaled[index]

    if quantile(0.0) <= z_q:
        return 0.0, len(usable)
    low, high = 0.0, 1.0
    while quantile(high) > z_q and high < 64:
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if quantile(mid) > z_q else (low, mid)
    return high, len(usable)


def family_confidence(confidence: float, tests: int) -> float:
    """Bonferroni: each of ``tests`` verdicts at this confidence keeps the chance of any false alarm <= 1 - confidence."""
    return 1 - (1 - confidence) / max(1, tests)


def gate_precision(spread: float, rounds: int, ratios: int, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """The half-width (log) of the per-ratio interval of a comparison of two runs like this one (``ratios`` ratios
    each, no run-to-run noise): the rounds' Hodges-Lehmann spread (sqrt(pi / 3) x s x sqrt(2 / n)) at the per-ratio
    confidence."""
    if not rounds or not spread == spread:
        return math.inf
    z = _z(family_confidence(confidence, ratios))
    return z * math.sqrt(math.pi / 3) * spread * math.sqrt(2 / rounds)


def _pooled(group: list[dict], z_within: float, z: float, tau: float, threshold: float,
            shift: float = 0.0) -> dict[str, Any]:
    """The weighted mean log change of ``group`` (weights 1 / (se^2 + tau^2)) with its interval at ``z``, the
    run-level ``shift`` included (it moves every ratio of a run alike, so pooling does not average it out)."""
    weights = []
    for c in group:
        var = (c["within_half"] / z_within) ** 2 + tau * tau
        weights.append(1.0 / var if var > 0 else 1e12)
    total = sum(weights)
    mean = sum(w * math.log(c["change"]) for w, c in zip(weights, group)) / total
    half = z * math.sqrt(1 / total + shift * shift)
    low, high = math.exp(mean - half), math.exp(mean + half)
    return {"n": len(group), "change": math.exp(mean), "low": low, "high": high,
            "status": verdict(low, high, threshold)}


def compare(old: dict, new: dict, threshold: float, confidence: float = DEFAULT_CONFIDENCE,
            tau: float | None = None, shift: float = DEFAULT_RUN_SHIFT) -> dict[str, Any]:
    """Every case timed in both, with its interval and verdict, per ratio, per method and over all; regressions:
    "slower" ratios, methods or the whole run, and methods timed in OLD that fail their correctness check in NEW
    (an eager failure, a compiled result that disagrees). ``tau``: the run-to-run noise (None: estimated)."""
    changes, regressions, missing = [], [], []
    for key, o in sorted(old["rows"].items()):
        n = new["rows"].get(key)
        if n is None:
            nt = new["not_timed"].get(key, {})
            status, reason = nt.get("status", "absent"), nt.get("reason", "not in NEW")
            entry = {"case": key[0], "device": key[1], "old": o["ratio"], "status": status, "reason": reason}
            wrong = status == "failed" or (status == "not timed" and "disagrees" in reason)
            (regressions if wrong else missing).append(entry)
            continue
        ro, rn = _rounds(o), _rounds(n)
        entry = {"case": key[0], "device": key[1], "method": o.get("method"), "old": o["ratio"], "new": n["ratio"],
                 "old_cv": o.get("ratio_cv"), "new_cv": n.get("ratio_cv"),
                 "old_rounds": len(ro), "new_rounds": len(rn)}
        if len(ro) < 2 or len(rn) < 2:
            entry.update(change=n["ratio"] / o["ratio"], within_half=math.inf, why="fewer than 2 rounds on a side")
        else:
            point, low, high = ratio_interval(ro, rn, confidence)
            half = (math.log(high) - math.log(low)) / 2 if math.isfinite(high) and low > 0 else math.inf
            entry.update(change=point, within_half=half)
            if math.isinf(half):
                entry["why"] = f"too few rounds for {confidence:.0%} ({len(ro)} and {len(rn)})"
        changes.append(entry)
    z_within = _z(confidence)
    estimated, used = run_noise(changes, confidence)
    if tau is not None:
        how = f"given (--run-noise {tau:g})"
    elif estimated is not None:
        tau, how = estimated, f"estimated from the {used} ratios compared"
    else:
        tau, how = DEFAULT_RUN_NOISE, (f"not estimated (only {used} ratios; at least {MIN_RATIOS_FOR_RUN_NOISE} are "
                                       f"needed): the default {DEFAULT_RUN_NOISE:g}, measured on the 2-core Xeon VM")
    finite = [c for c in changes if math.isfinite(c["within_half"])]
    ratio_conf = family_confidence(confidence, len(finite))
    z_ratio = _z(ratio_conf)
    for entry in changes:
        h = entry["within_half"]
        half = z_ratio * math.sqrt((h / z_within) ** 2 + tau * tau) if math.isfinite(h) else math.inf
        entry["low"] = entry["change"] * math.exp(-half) if math.isfinite(half) else 0.0
        entry["high"] = entry["change"] * math.exp(half) if math.isfinite(half) else math.inf
        entry["status"] = verdict(entry["low"], entry["high"], threshold)
        if entry["status"] == "slower":
            regressions.append(entry)
    by_method: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for c in finite:
        by_method[(c.get("method") or _CASE_ID.match(c["case"])["method"], c["device"])].append(c)
    groups = {key: group for key, group in sorted(by_method.items()) if len(group) >= 2}
    method_conf = family_confidence(confidence, len(groups))
    methods = {key: _pooled(g, z_within, _z(method_conf), tau, threshold, shift) for key, g in groups.items()}
    overall = _pooled(finite, z_within, z_within, tau, threshold, shift) if len(finite) >= 2 else None
    pooled_regressions = [f"{m} on {dev}" for (m, dev), r in methods.items() if r["status"] == "slower"]
    if overall is not None and overall["status"] == "slower":
        pooled_regressions.append("all ratios")
    return {"changes": changes, "regressions": regressions, "missing": missing, "run_noise": tau,
            "run_noise_how": how, "methods": methods, "overall": overall, "pooled_regressions": pooled_regressions,
            "ratio_confidence": ratio_conf, "method_confidence": method_conf, "run_shift": shift}


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
    described = [r for r in runs if r["desc"]["described"]]
    if not described:
        return ["_Workload and method descriptions are not in this JSON (schema 1, written before the method "
                "registry); a run of tests/bench writes them._", ""]
    desc = described[-1]["desc"]
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
