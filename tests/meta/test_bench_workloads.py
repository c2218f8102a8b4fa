"""The benchmark workloads: the hand-written Taylor floor agrees with nested autograd (float64)."""

from __future__ import annotations

import pytest

from spec import bench_workloads as bw

torch = pytest.importorskip("torch")


def test_case_ids_round_trip_and_every_method_is_described():
    cases = bw.all_cases()
    assert len({c.id for c in cases}) == len(cases)
    assert all(bw.parse_case_id(c.id) == c for c in cases)
    assert set(bw.METHOD_ORDER) == {m for w in bw._APPLIES.values() for m in w}


@pytest.mark.parametrize(
    "case_id",
    [f"derivative-k{k}-analytic" for k in bw.ORDERS]
    + ["laplacian-d2-analytic", "laplacian-d8-is_grads_batched", "laplacian-d2-forward_ad",
       "biharmonic-d2-analytic", "pinn_step-d2-analytic", "derivative-k3-func_jvp_grad"],
)
def test_method_agrees_with_the_float64_reference(case_id):
    case = bw.parse_case_id(case_id)
    ref = bw.reference(case)
    value = bw.build(case, dtype=torch.float64).method()
    assert bw.relative_error(value, ref) < bw.TOLERANCE["float64"]


def test_a_wrong_method_is_caught():
    case = bw.parse_case_id("derivative-k3-analytic")
    ref = bw.reference(case)
    wrong = bw.build(bw.parse_case_id("derivative-k2-analytic"), dtype=torch.float64).method()
    assert bw.relative_error(wrong, ref) > bw.TOLERANCE["float32"]
