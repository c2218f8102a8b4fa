"""The instruction-count gate: two runs' callgrind counts per case, judged against a threshold (default 5 %).

``tests.bench.instructions`` counts the instructions one call of each eager case executes under valgrind's
callgrind (``autograd_spec.instructions`` in the benchmark JSON: per case the method's and the forward
pass's count per call, with the torch build, the Python, the valgrind version, the CPU and the
instruction set torch dispatched to). Counts do not move with the load of the machine: two runs of one
torch in two processes gave the same counts to within ``NOISE_FLOOR`` (measured, below), where wall-time
ratios moved by about 15 %. So the verdict per case is plain: **slower** when NEW/OLD of the method's
instructions per call exceeds 1 + threshold, else ok; the threshold can sit far below the wall-time
gate's, at 5 % by default and lower where the noise floor allows (``--instr-threshold``).

What counts cannot see, and a wall-time comparison can: memory bandwidth and cache misses (an instruction
that waits for DRAM counts once), threading (counted on one thread), the GPU (a kernel launch is a few
host instructions, whatever the kernel does), and the clock of the CPU. The wall-time ratios stay the
figure a user reads; the counts are the gate that sees a few per cent.

Counts depend on the instruction set torch dispatches to (AVX2 under valgrind 3.19, which has no AVX-512),
on the CPU vendor (MKL and oneDNN pick kernels by it), on the Python (the interpreter's own instructions)
and on valgrind: two records that differ in any of these are not compared (``differences``).
"""

from __future__ import annotations

import math
import statistics
from typing import Any

DEFAULT_INSTR_THRESHOLD = 0.05
#: the noise floor: the largest |NEW/OLD - 1| of the method's instructions per call between two runs of torch
#: 2.15.0+cu132 in two processes (Python 3.12.1, valgrind 3.19, AMD EPYC VM, loaded, 2026-12-06), 0.085 % over 12
#: cases (median 0.036 %; the forward passes at most 0.041 %), rounded up: docs/bench/instructions/baseline.json
#: vs rerun.json (tests/meta/test_bench_gate.py re-derives it). The default threshold is 50 times it. A different
#: sequence of cases in the process moves counts a little more (the allocator's state): the live check's 4 cases
#: against the committed 12-case run differed by up to 0.18 %.
NOISE_FLOOR = 0.001
#: what must be equal for two records' counts to be comparable
FINGERPRINT = ("cpu", "cpu_capability", "python", "valgrind", "threads", "calls")


def record_of(run: dict) -> dict | None:
    """The instruction record of a loaded run (``autograd_spec.instructions``), or None."""
    rec = run["meta"].get("instructions")
    return rec if isinstance(rec, dict) and rec.get("cases") is not None else None


def differences(old: dict, new: dict) -> list[str]:
    return [f"{k}: {old.get(k)} vs {new.get(k)}" for k in FINGERPRINT if old.get(k) != new.get(k)]


def compare_counts(old: dict, new: dict, threshold: float = DEFAULT_INSTR_THRESHOLD) -> dict[str, Any]:
    """Every case counted in both records: the change of the method's instructions per call, and the verdict."""
    rows = []
    for case, o in sorted(old["cases"].items()):
        n = new["cases"].get(case)
        if n is None:
            continue
        change = n["method"] / o["method"]
        rows.append({"case": case, "old": o["method"], "new": n["method"], "change": change,
                     "forward_change": n["forward"] / o["forward"], "old_ratio": o["method"] / o["forward"],
                     "new_ratio": n["method"] / n["forward"],
                     "status": "slower" if change > 1 + threshold else "ok"})
    changes = [abs(math.log(r["change"])) for r in rows]
    return {
        "rows": rows,
        "slower": [r["case"] for r in rows if r["status"] == "slower"],
        "only_old": sorted(set(old["cases"]) - set(new["cases"])),
        "only_new": sorted(set(new["cases"]) - set(old["cases"])),
        "threshold": threshold,
        "max_change": math.expm1(max(changes)) if changes else None,
        "median_change": math.expm1(statistics.median(changes)) if changes else None,
        "noise_floor": NOISE_FLOOR,
        "old": {k: old.get(k) for k in ("torch", "patch", *FINGERPRINT)},
        "new": {k: new.get(k) for k in ("torch", "patch", *FINGERPRINT)},
    }


def render_counts(result: dict) -> str:
    """The instruction gate as Markdown (appended to ``--compare``'s output)."""
    t = result["threshold"]
    o, n = result["old"], result["new"]
    lines = [
        "## Instruction counts (callgrind): the gate that sees a few per cent",
        "",
        f"OLD: torch {o['torch']}{' with patch ' + o['patch'] if o.get('patch') else ''}; NEW: torch {n['torch']}"
        f"{' with patch ' + n['patch'] if n.get('patch') else ''}; {n['valgrind']}, Python {n['python']}, {n['cpu']} "
        f"({n['cpu_capability']} kernels under valgrind), {n['threads']} thread, {n['calls']} call(s) counted per case. "
        f"Change: NEW/OLD of the method's instructions per call. **slower**: more than +{t:.1%}. Noise floor: two "
        f"runs of one torch differed by at most {result['noise_floor']:.1%} (measured; the threshold should stay "
        "several times above it). Counts cannot see memory bandwidth and cache misses, threading, the GPU or the "
        "CPU's clock: the wall-time ratios stay the figure to read, the counts are the gate.",
        "",
        "| case | OLD instructions | NEW instructions | change | forward change | method/forward OLD -> NEW | verdict |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        verdict = f"**SLOWER by more than {t:.1%}**".replace(".0%", "%") if r["status"] == "slower" else "ok"
        lines.append(f"| {r['case']} | {r['old']:,} | {r['new']:,} | {r['change'] - 1:+.2%} | "
                     f"{r['forward_change'] - 1:+.2%} | {r['old_ratio']:.2f} -> {r['new_ratio']:.2f} | {verdict} |")
    lines.append("")
    if result["only_old"] or result["only_new"]:
        lines.append(f"Counted in one run only (not compared): {len(result['only_old'])} in OLD, "
                     f"{len(result['only_new'])} in NEW.")
        lines.append("")
    spread = "" if result["max_change"] is None else (
        f" Largest change {result['max_change']:.2%} (in absolute value), median {result['median_change']:.2%}.")
    if result["slower"]:
        lines.append(f"INSTRUCTIONS: {len(result['slower'])} of {len(result['rows'])} case(s) slower by more than "
                     f"{t:.1%}: {', '.join(result['slower'])}.{spread}")
    else:
        lines.append(f"INSTRUCTIONS OK: none of {len(result['rows'])} case(s) slower by more than {t:.1%}.{spread}")
    return "\n".join(lines) + "\n"


#: how far a repeat of a case in the same process may move (a few noise floors: the allocator's state differs)
REPEAT_TOLERANCE = 3 * NOISE_FLOOR
#: the live check's threshold: five noise floors, below the smallest slowdown the proof's patch adds (0.7 %)
LIVE_THRESHOLD = 0.005


def live_failures(unpatched: dict, patched: dict, repeat: dict | None, expected_users: set[str] | frozenset[str],
                  threshold: float = LIVE_THRESHOLD) -> list[str]:
    """The self-contained live gate: the same cases counted in one process with unpatched torch, again with a real
    slowdown patch applied (rows carry ``patched_calls``: the patched kernel's calls per call of the method), and a
    repeat of unpatched cases. Returns the failures (empty: the gate works here): every case counted both ways; the
    subset holds cases that call the patched kernel and cases that do not, and they are the ``expected_users``; at
    ``threshold`` exactly those cases are flagged; each repeat is within ``REPEAT_TOLERANCE`` of its first count."""
    fails = []
    missing = sorted(set(unpatched["cases"]) ^ set(patched["cases"]))
    if missing or not unpatched["cases"]:
        fails.append(f"not counted both ways: {missing or 'no case'}")
    users = {c for c, row in patched["cases"].items() if row.get("patched_calls", 0) > 0}
    if not users or users == set(patched["cases"]):
        fails.append(f"vacuous: {len(users)} of {len(patched['cases'])} cases call the patched kernel (need some and "
                     "not all)")
    if users != set(expected_users):
        fails.append(f"the patch reached {sorted(users)}, expected {sorted(expected_users)}")
    result = compare_counts(unpatched, patched, threshold)
    if set(result["slower"]) != users:
        fails.append(f"at {threshold:.1%} flagged {sorted(result['slower'])}, the patched kernel's callers are "
                     f"{sorted(users)}")
    if repeat is None or not repeat["cases"]:
        fails.append("no repeat of an unpatched case")
    else:
        for case, row in repeat["cases"].items():
            first = unpatched["cases"].get(case)
            change = row["method"] / first["method"] - 1 if first else math.inf
            if abs(change) > REPEAT_TOLERANCE:
                fails.append(f"{case} counted twice in one process moved by {change:+.3%} (tolerance "
                             f"{REPEAT_TOLERANCE:.1%})")
    return fails
