"""The comparison of two benchmark runs: intervals, the run-to-run noise, verdicts.

How the comparison decides. Each timed case stores its per-round ratios (5 to 40 rounds). The
change NEW/OLD of a ratio is a shift of the log ratios, and the rounds give its confidence interval
the Mann-Whitney way (the Hodges-Lehmann / Moses interval): the sorted pairwise differences
log(new_i) - log(old_j), cut at the exact critical value of the U statistic for these round
counts. Why this and not a bootstrap: with 5 rounds a percentile bootstrap of the median
undercovers, and it needs a seed; the rank interval has exact coverage for any distribution of
the rounds (only a common shift is assumed), is deterministic, and is robust to a round another
process interrupted. With 4 rounds or fewer on a side no interval at 99 % exists: "not measurable".

The rounds only see the noise inside one run. Two runs of one torch on one machine also differ by
a bias per ratio, with heavy tails, far beyond the spread of their rounds. So the comparison
estimates that run-to-run noise from the two runs themselves: tau = the smallest spread for which
the 95th percentile of the log changes' distances from their median, each over sqrt(its rounds'
variance + tau^2), is 1.96 (``run_noise``); with fewer than ``MIN_RATIOS_FOR_RUN_NOISE`` ratios it
is not estimated and ``DEFAULT_RUN_NOISE`` (measured) stands in, or ``--run-noise``. Each ratio's
interval is widened to half-width sqrt(h^2 + (z tau)^2), h the rounds' half-width, at the per-ratio
confidence 1 - (1 - c) / N (Bonferroni over the N ratios, so that two runs of one torch raise no
alarm at c). The 95th percentile is robust to 5 % of ratios that really changed; a change of every
ratio alike moves the median, not the spread, so it stays visible. The model is normal: with
heavier tails a single ratio of one torch can still be called "slower"; the pooled verdicts are
robust to them (``tests/meta/test_bench_report.py`` simulates both).

Verdicts, for a threshold t (default 10 %) and confidence c (default 99 %):

* per ratio: **slower** when the whole interval lies above 1 + t; ok when wholly below; else
  **not measurable at this noise**;
* per method (its ratios over all workloads: a torch change usually hits a method everywhere) and
  over all ratios: the inverse-variance weighted mean of the log changes, with the normal
  interval of that mean, judged the same way (Bonferroni over the methods). A whole run can also
  shift, which no comparison can tell from torch's doing; the pooled intervals include such a
  shift (``DEFAULT_RUN_SHIFT``, measured; ``--run-shift``).

What this buys on a given machine (the run-to-run noise and shift measured there, and the
slowdowns a comparison can then show) is the README's to say, in its benchmarks section.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from functools import cache
from typing import Any

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
        by_method[(c["method"], c["device"])].append(c)
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
