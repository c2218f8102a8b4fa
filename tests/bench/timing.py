"""Interleaved timing for the benchmarks: every block times the plain forward pass, then the method.

The figure of merit is the ratio method time / forward time per round: a round is one to three
alternating blocks (forward, method, forward, method, ...), and its ratio is the minimum method
block over the minimum forward block, so that machine speed, frequency scaling and load from
other processes cancel, and a block another process interrupted is dropped. On CUDA both are
timed with CUDA events around the calls, and each round ends with a synchronization.

Blocks are short (2 ms of calls) and a round takes the minimum of 3 to 12 of them: on a
noisy VM the time of a call is the clean time plus interruptions, and the minimum over many
short blocks finds the clean time far more steadily than a few long ones (on the 2-core Xeon VM
of 2026-11-28, blocks of 20 ms, 3 to a round, gave a robust spread of 8-10 % per round; 2 ms, 12
to a round, 2-3 %). Each case gets the rounds its time budget affords (``CASE_BUDGET_S``), 8 to
40, whatever the budget; a method slower than 0.5 s a call gets rounds of one call, and at least 5
(the fewest for which a 99 % interval exists). The JSON records, per case, the
robust spread of the rounds (``spread``), from which the report computes which cases can show a
20 % slowdown (``spec.bench.stats.gate_precision``).
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

#: time for the method calls of one block (and, separately, for the forward calls of one block): short,
#: so that most blocks run without an interruption from another process
BLOCK_TARGET_S = 0.002
#: time for one round: its blocks (MIN_GROUP to MAX_GROUP of them) give one ratio, the minimum over the round
ROUND_TARGET_S = 0.1
MIN_GROUP = 3
MAX_GROUP = 12
#: a method whose call takes longer than this gets rounds of one block
LONG_CALL_S = 0.5
#: ... longer than this: no warm-up round and no second warm-up call (its rounds are what the budget affords,
#: which is SLOW_ROUNDS)
SLOW_CALL_S = 2.0
#: 5 rounds a side is the fewest for which a 99 % Mann-Whitney interval exists (1/252 < 0.5 %)
SLOW_ROUNDS = 5
MIN_ROUNDS = 8
MAX_ROUNDS = 40
#: time for the measured rounds of one case: it gets as many rounds as this affords (MIN_ROUNDS to MAX_ROUNDS;
#: never fewer than SLOW_ROUNDS, whatever the time)
CASE_BUDGET_S = 4.0
#: the precision a case should reach: an interval of +-5 % (log scale) for a comparison of two runs like it, so
#: that a real 20 % slowdown is "slower" at the default 10 % threshold with a margin. Recorded, not enforced: the
#: report (``spec.bench.stats.gate_precision``) counts the ratios that reach it.
PRECISION = 0.05


#: the CPU clock: "cpu" (process CPU time, the default: on one thread it equals the wall time of an idle
#: machine, and time the scheduler gives to other processes does not count) or "wall" (perf_counter)
CPU_CLOCK = os.environ.get("SPEC_BENCH_CLOCK", "cpu")


#: glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
HEAP_MMAP_THRESHOLD = 32 * 2**20  # glibc's largest: blocks below it come from the heap and are reused
HEAP_TRIM_THRESHOLD = 2**62  # never give freed heap memory back to the OS
HEAP_TOP_PAD = 256 * 2**20


def steady_heap() -> str:
    """Keep freed memory in the process (glibc): no trimming, and no mmap below 32 MiB.

    By default glibc gives large freed blocks back to the OS, and the next call page-faults them
    in again: on the Xeon VM a round of derivative-k4-jet (one method call, seven forward calls)
    took 1141 minor page faults, laplacian-d32-nested_grad 473; with this, 19-30 and 47. (It does not
    remove the run-to-run spread of the ratios: ``spec.bench`` estimates that one from the runs.)
    Returns how the heap is set, for the JSON.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return "default (no glibc mallopt)"
    ok = all(mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_THRESHOLD, HEAP_MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, HEAP_TRIM_THRESHOLD), (_M_TOP_PAD, HEAP_TOP_PAD)))
    if not ok:
        return "default (mallopt refused)"
    return "glibc mallopt: mmap threshold 32 MiB, no trim, top pad 256 MiB"


class Clock:
    """Seconds per call of ``fn`` over ``n`` calls: CUDA events on a GPU; process CPU time (or wall) on the CPU."""

    def __init__(self, device: str = "cpu", cpu_clock: str = CPU_CLOCK) -> None:
        self.device = device
        self.cuda = device.startswith("cuda")
        if cpu_clock not in ("cpu", "wall"):
            raise ValueError(f"SPEC_BENCH_CLOCK must be cpu or wall, not {cpu_clock!r}")
        self.now = time.process_time if cpu_clock == "cpu" else time.perf_counter
        self.name = "cuda events" if self.cuda else ("process CPU time" if cpu_clock == "cpu" else "wall clock")

    def per_call(self, fn: Callable[[], Any], n: int) -> float:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(n):
                fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / 1e3 / n
        t0 = self.now()
        for _ in range(n):
            fn()
        return (self.now() - t0) / n


def calls_for(seconds_per_call: float, target: float = BLOCK_TARGET_S) -> int:
    return max(1, int(math.ceil(target / max(seconds_per_call, 1e-9))))


def plan(call_s: float, forward_s: float) -> dict[str, int]:
    """Calls per block, blocks per round, and rounds for a method taking ``call_s`` per call."""
    method_calls, forward_calls = calls_for(call_s), calls_for(forward_s)
    block_s = method_calls * call_s + forward_calls * forward_s
    if call_s > LONG_CALL_S:
        group = 1
    else:
        group = max(MIN_GROUP, min(MAX_GROUP, int(math.ceil(ROUND_TARGET_S / block_s))))
    affordable = int(CASE_BUDGET_S / (group * block_s))
    rounds = max(SLOW_ROUNDS if call_s > LONG_CALL_S else MIN_ROUNDS, min(MAX_ROUNDS, affordable))
    return {"method_calls": method_calls, "forward_calls": forward_calls, "group": group, "rounds": rounds,
            "warmup": 0 if call_s > SLOW_CALL_S else 1}


def spread(ratios: list[float]) -> float:
    """A robust spread of the log ratios: 1.4826 x their median absolute deviation (the standard deviation
    for normal noise; one round another process interrupted does not inflate it). NaN below 3 rounds."""
    if len(ratios) < 3:
        return float("nan")
    logs = [math.log(r) for r in ratios]
    center = statistics.median(logs)
    return 1.4826 * statistics.median(abs(v - center) for v in logs)


def ratio_stats(method_s: list[float], forward_s: list[float], group: int = 1) -> dict[str, Any]:
    """Per-round ratios from alternating blocks F M F M ...: in each round of ``group`` blocks,
    the minimum method time over the minimum forward time (the minimum filters out blocks that
    another process interrupted). The CV is the standard deviation of the rounds' ratios over their mean.
    """
    if len(forward_s) != len(method_s) or not method_s or len(method_s) % group:
        raise ValueError("need one forward block per method block, a whole number of rounds of `group` blocks")
    ratios = [
        min(method_s[i : i + group]) / min(forward_s[i : i + group]) for i in range(0, len(method_s), group)
    ]
    mean = statistics.fmean(ratios)
    cv = statistics.stdev(ratios) / mean if len(ratios) > 1 else float("nan")
    return {
        "ratio": mean,
        "ratio_median": statistics.median(ratios),
        "ratio_cv": cv,
        "ratios": ratios,
        "method_s": min(method_s),
        "forward_s": min(forward_s),
    }


class Interleaved:
    """Drives ``benchmark.pedantic``: ``setup`` times a forward block, ``target`` a method block.

    Before pedantic, one round is timed the same way and thrown away: the warm-up (the
    allocator, the caches, lazy initialisations: the first round of a case ran up to 2x slower
    than the rest on the Xeon VM).
    """

    def __init__(self, forward: Callable[[], Any], method: Callable[[], Any], clock: Clock, first_call_s: float):
        self.forward, self.method, self.clock = forward, method, clock
        # 2nd warm-up and calibration (the first call may include one-time costs)
        call_s = first_call_s if first_call_s > 4 * SLOW_CALL_S else clock.per_call(method, 1)
        self.call_s = call_s
        self.plan = plan(call_s, clock.per_call(forward, 3))
        self.slow = call_s > SLOW_CALL_S
        self.forward_s: list[float] = []
        self.method_s: list[float] = []

    def setup(self):
        self.forward_s.append(self.clock.per_call(self.forward, self.plan["forward_calls"]))
        return (), {}

    def target(self) -> None:
        self.method_s.append(self.clock.per_call(self.method, self.plan["method_calls"]))

    def run(self, benchmark) -> dict[str, Any]:
        gc.collect()
        enabled = gc.isenabled()
        gc.disable()
        rounds, group = self.plan["rounds"], self.plan["group"]
        try:
            for _ in range(self.plan["warmup"] * group):
                self.setup()
                self.target()
            self.forward_s, self.method_s = [], []
            benchmark.pedantic(self.target, setup=self.setup, rounds=rounds * group, warmup_rounds=0, iterations=1)
        finally:
            if enabled:
                gc.enable()
        stats = ratio_stats(self.method_s, self.forward_s, group)
        s = spread(stats["ratios"])
        stats.update(
            rounds=rounds,
            spread=s,
            blocks_per_round=group,
            calls_per_block=self.plan["method_calls"],
            forwards_per_block=self.plan["forward_calls"],
            slow=self.slow,
            clock=self.clock.name,
        )
        return stats
