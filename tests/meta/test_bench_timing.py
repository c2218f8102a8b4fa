"""The benchmarks' round plan (tests/bench/timing.py): rounds follow the noise, within a budget, and never so few
that the 99 % comparison cannot decide."""

from __future__ import annotations

import math
import random

import pytest

from tests.bench import timing as t


def test_spread_is_robust_to_one_interrupted_round():
    calm = [10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0]
    assert t.spread(calm) == pytest.approx(t.spread(calm[:-1] + [40.0]), rel=0.5)
    assert t.spread(calm) < 0.02
    assert math.isnan(t.spread([1.0, 2.0]))


def test_the_gate_precision_formula_matches_the_mann_whitney_interval_on_simulated_runs():
    """spec.bench.stats.gate_precision (one ratio: 99 %) is the half-width of the rounds' 99 % interval for normal noise."""
    from spec.bench import stats as bench_stats

    rng, s, n = random.Random(1), 0.05, 30
    widths = []
    for _ in range(40):
        old = [math.exp(rng.gauss(0, s)) for _ in range(n)]
        new = [math.exp(rng.gauss(0, s)) for _ in range(n)]
        _, low, high = bench_stats.ratio_interval(old, new, 0.99)
        widths.append((math.log(high) - math.log(low)) / 2)
    assert sum(widths) / len(widths) == pytest.approx(bench_stats.gate_precision(s, n, ratios=1), rel=0.15)


def test_a_fast_method_gets_short_blocks_many_to_a_round_and_the_most_rounds():
    p = t.plan(call_s=0.0004, forward_s=0.0003)
    assert p["method_calls"] * 0.0004 == pytest.approx(t.BLOCK_TARGET_S, rel=0.2)
    assert t.MIN_GROUP < p["group"] <= t.MAX_GROUP and p["rounds"] == t.MAX_ROUNDS and p["warmup"] == 1


def test_a_medium_method_gets_what_the_budget_affords_and_never_fewer_than_eight_rounds():
    p = t.plan(call_s=0.05, forward_s=0.0003)
    block_s = 0.05 + p["forward_calls"] * 0.0003
    assert p["group"] == t.MIN_GROUP and p["rounds"] == int(t.CASE_BUDGET_S / (t.MIN_GROUP * block_s))
    assert t.plan(call_s=0.4, forward_s=0.0003)["rounds"] == t.MIN_ROUNDS


@pytest.mark.parametrize("call_s", [0.6, 2.5, 30.0])
def test_even_a_slow_method_gets_the_five_rounds_a_99_percent_interval_needs(call_s):
    from spec.bench import stats as bench_stats

    p = t.plan(call_s=call_s, forward_s=0.0003)
    assert p["group"] == 1 and p["rounds"] >= t.SLOW_ROUNDS == 5
    assert bench_stats._u_critical(p["rounds"], p["rounds"], 0.99) >= 1
    assert bench_stats._u_critical(4, 4, 0.99) == 0  # one fewer and no interval exists
    assert p["warmup"] == (0 if call_s > t.SLOW_CALL_S else 1)
