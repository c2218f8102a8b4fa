"""The benchmarks of higher-order derivative cost (issue 5). Never asserts on time.

Each case (workload, size, method) first checks the method's float32 result against a
float64 reference (nested autograd in float64); a method that disagrees fails here and
reports no time. Then rounds alternate the plain forward pass and the method, and the
case records (in ``extra_info``) the ratio method / forward per round, its mean and
coefficient of variation, and the peak memory of one call measured in a separate process.
"""

from __future__ import annotations

import pytest

from spec import bench_workloads as bw
from spec.bench_memory import HOW_CPU
from spec.bench_timing import Clock, Interleaved


def _params():
    out = []
    for case in bw.all_cases():
        reason = case.na_reason
        marks = (pytest.mark.skip(reason=reason),) if reason else ()
        out.append(pytest.param(case.id, id=case.id, marks=marks))
    return out


@pytest.mark.parametrize("case_id", _params())
def test_bench(case_id, device, benchmark, bench_references, memory_probes):
    import torch

    case = bw.parse_case_id(case_id)
    if case.method == "jet":
        why = bw.jet_unavailable_reason()
        if why:
            pytest.skip(f"jet {why}")
    benchmark.group = f"{case.workload}-{bw.PARAM_NAME[case.workload]}{case.param}"
    key = (case.workload, case.param, device)
    if key not in bench_references:
        bench_references[key] = bw.reference(case, device=device)
    ref = bench_references[key]

    built = bw.build(case, device=device)
    clock = Clock(device)
    # correctness first: this call is also the first warm-up (and, for a slow method, its calibration)
    box = []
    first_s = clock.per_call(lambda: box.append(built.method()), 1)
    value = box.pop()
    error = bw.relative_error(value, ref)
    tolerance = bw.TOLERANCE["float32"]
    assert error <= tolerance, (
        f"{case.id}: float32 result differs from the float64 reference by {error:.2e} (relative to its max) "
        f"> {tolerance:.0e}: not timed"
    )
    del value

    stats = Interleaved(built.forward, built.method, clock, first_s).run(benchmark)
    memory = memory_probes(device).measure(case.id, slow=stats["slow"])
    benchmark.extra_info.update(
        case=case.id,
        workload=case.workload,
        param=case.param,
        param_name=bw.PARAM_NAME[case.workload],
        method=case.method,
        device=device,
        dtype="float32",
        torch=torch.__version__,
        rel_error=error,
        tolerance=tolerance,
        memory_how=memory.get("how", HOW_CPU),
        peak_bytes=memory.get("method_peak_bytes"),
        forward_peak_bytes=memory.get("forward_peak_bytes"),
        memory_error=memory.get("error"),
        **stats,
    )
