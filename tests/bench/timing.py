"""Interleaved timing for the benchmarks: every round times the plain forward pass, then the method.

The figure of merit is the ratio method time / forward time, computed per round with the
forward measured right before and right after the method's round (their mean), so that
machine speed, frequency scaling and load from other processes cancel. On CUDA both are
timed with CUDA events around the calls, and each round ends with a synchronization.
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

#: time for the method calls of one block (and, separately, for the forward calls of one block)
ROUND_TARGET_S = 0.02
#: time for all timed blocks of one case
CASE_BUDGET_S = 0.8
#: blocks per round: a round's forward and method times are the minimum over its blocks
GROUP = 3
MIN_ROUNDS = 5
MAX_ROUNDS = 8
#: a method whose call takes longer than this gets rounds of one block
MEDIUM_CALL_S = 0.25
#: ... longer than this: SLOW_ROUNDS rounds of one call, and no second warm-up call
SLOW_CALL_S = 2.0
SLOW_ROUNDS = 2


#: the CPU clock: "cpu" (process CPU time, the default: on one thread it equals the wall time of an idle
#: machine, and time the scheduler gives to other processes does not count) or "wall" (perf_counter)
CPU_CLOCK = os.environ.get("SPEC_BENCH_CLOCK", "cpu")


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


def calls_for(seconds_per_call: float, target: float = ROUND_TARGET_S) -> int:
    return max(1, int(math.ceil(target / max(seconds_per_call, 1e-9))))


def plan(call_s: float, forward_s: float) -> dict[str, int]:
    """Calls per block, blocks per round and rounds for a method taking ``call_s`` per call."""
    if call_s > SLOW_CALL_S:
        return {"method_calls": 1, "forward_calls": calls_for(forward_s), "group": 1, "rounds": SLOW_ROUNDS}
    method_calls = calls_for(call_s)
    forward_calls = calls_for(forward_s, min(ROUND_TARGET_S, max(call_s, 0.005)))
    group = 1 if call_s > MEDIUM_CALL_S else GROUP
    block = method_calls * call_s + forward_calls * forward_s
    rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, int(CASE_BUDGET_S / (group * block))))
    return {"method_calls": method_calls, "forward_calls": forward_calls, "group": group, "rounds": rounds}


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
    """Drives ``benchmark.pedantic``: ``setup`` times a forward block, ``target`` a method block."""

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
        try:
            blocks = self.plan["rounds"] * self.plan["group"]
            benchmark.pedantic(self.target, setup=self.setup, rounds=blocks, warmup_rounds=0, iterations=1)
        finally:
            if enabled:
                gc.enable()
        stats = ratio_stats(self.method_s, self.forward_s, self.plan["group"])
        stats.update(
            rounds=self.plan["rounds"],
            blocks_per_round=self.plan["group"],
            calls_per_block=self.plan["method_calls"],
            forwards_per_block=self.plan["forward_calls"],
            slow=self.slow,
            clock=self.clock.name,
        )
        return stats
