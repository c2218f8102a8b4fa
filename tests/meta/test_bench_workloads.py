"""The benchmark workloads and the method registry: the hand-written Taylor floor agrees with nested autograd
(float64); every method builds or says why not for every workload; the report never imports the benchmarks."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from tests.bench import methods as bm
from tests.bench import workloads as bw

torch = pytest.importorskip("torch")
ROOT = Path(__file__).resolve().parents[2]


def test_trace_autograd_ops_since_is_the_recorded_release():
    """The benchmarks gate nested-autograd compiles on the release the claims record for trace_autograd_ops."""
    from packaging.version import Version

    from spec.claims import recorded_change

    change = recorded_change("COMP-013/torch._dynamo.config.trace_autograd_ops exists")
    [since] = change.changed_in
    assert change.for_version(since) is True
    assert Version(since).release[:2] == Version(bm.TRACE_AUTOGRAD_OPS_SINCE).release[:2]


def test_case_ids_round_trip_and_every_method_builds_or_says_why_not():
    cases = bm.all_cases()
    assert len({c.id for c in cases}) == len(cases)
    assert all(bm.parse_case_id(c.id) == c for c in cases)
    for case in cases:
        reason = case.na_reason  # raises KeyError when a method has neither a builder nor a reason
        assert reason is None or reason.startswith("n/a: ")
    assert len(set(bm.METHOD_ORDER)) == len(bm.REGISTRY)


def test_compiled_variants_beside_eager():
    compiled = {m.name: m for m in bm.REGISTRY.values() if m.compiled_from}
    assert set(compiled) == {f"{b}_compiled" for b in bm.COMPILED_BASES}
    assert all(m.compile["fullgraph"] and m.compile["backend"] == "inductor" for m in compiled.values())
    assert compiled["nested_grad_compiled"].compile["config"] == {"torch._dynamo.config.trace_autograd_ops": True}
    timed = sorted(c.id for c in bm.all_cases() if c.compiled and c.na_reason is None)
    assert len(timed) == 19  # few: each compile costs seconds to a minute
    assert {c.split("-")[0] + "-" + c.split("-")[1] for c in timed} == {
        "derivative-k2", "derivative-k4", "laplacian-d8", "pinn_step-d2"}
    assert "n/a: hessian is the 2nd derivative only" == bm.Case("derivative", 4, "func_hessian_compiled").na_reason


def test_the_description_is_json_and_complete():
    desc = json.loads(json.dumps(bm.describe()))
    assert [m["name"] for m in desc["methods"]] == list(bm.METHOD_ORDER)
    assert [w["name"] for w in desc["workloads"]] == list(bw.WORKLOADS)
    assert len(desc["cases"]) == len(bm.all_cases())
    assert all(m["description"] and m["family"] for m in desc["methods"])


def test_spec_never_imports_the_benchmarks():
    for path in (ROOT / "spec").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "tests" or n.startswith("tests.") for n in names), f"{path} imports {names}"


@pytest.mark.parametrize(
    "case_id",
    [f"derivative-k{k}-analytic" for k in bw.ORDERS]
    + ["laplacian-d2-analytic", "laplacian-d8-is_grads_batched", "laplacian-d2-forward_ad",
       "biharmonic-d2-analytic", "pinn_step-d2-analytic", "derivative-k3-func_jvp_grad"],
)
def test_method_agrees_with_the_float64_reference(case_id):
    case = bm.parse_case_id(case_id)
    ref = bm.reference(case)
    value = bm.build(case, dtype=torch.float64).method()
    assert bw.relative_error(value, ref) < bw.TOLERANCE["float64"]


def test_a_wrong_method_is_caught():
    case = bm.parse_case_id("derivative-k3-analytic")
    ref = bm.reference(case)
    wrong = bm.build(bm.parse_case_id("derivative-k2-analytic"), dtype=torch.float64).method()
    assert bw.relative_error(wrong, ref) > bw.TOLERANCE["float32"]
