"""The benchmarks of higher-order derivative cost (issues 5 and 12). Never asserts on time.

Each case (workload, size, method) first checks the method's float32 result against a
float64 reference (nested autograd in float64); an eager method that disagrees fails here and
reports no time. Then rounds alternate the plain forward pass and the method, and the
case records (in ``extra_info``) the ratio method / forward per round, its mean and
coefficient of variation, and the peak memory of one call measured in a separate process.

A compiled method's first call compiles: its wall time is recorded apart (``compile_seconds``)
and the ratios are the steady state. A compiled method that fails to compile or disagrees with
the reference is skipped as "not timed" with the reason (it is torch.compile's result, not an
error of the run); its peak memory is not measured (the memory worker would compile again).
"""

from __future__ import annotations

import time

import pytest

from tests.bench import methods as bm
from tests.bench import workloads as bw
from tests.bench.memory import HOW_CPU
from tests.bench.timing import Clock, Interleaved


def _params():
    out = []
    for case in bm.all_cases():
        reason = case.na_reason
        marks = (pytest.mark.skip(reason=reason),) if reason else ()
        out.append(pytest.param(case.id, id=case.id, marks=marks))
    return out


@pytest.mark.parametrize("case_id", _params())
def test_bench(case_id, device, benchmark, bench_references, memory_probes):
    import torch

    case = bm.parse_case_id(case_id)
    method = bm.REGISTRY[case.method]
    why = method.unavailable()
    if why:
        pytest.skip(why)
    benchmark.group = f"{case.workload}-{bw.PARAM_NAME[case.workload]}{case.param}"
    key = (case.workload, case.param, device)
    if key not in bench_references:
        bench_references[key] = bm.reference(case, device=device)
    ref = bench_references[key]

    clock = Clock(device)
    tolerance = bw.TOLERANCE["float32"]
    box = []
    if case.compiled:
        # the first call compiles: wall time (the C++ compiler runs in other processes), not a ratio
        try:
            built = bm.build(case, device=device)
            t0 = time.perf_counter()
            clock.per_call(lambda: box.append(built.method()), 1)
            compile_s = time.perf_counter() - t0
        except Exception as exc:
            known = bm.KNOWN_COMPILE_FAILURES.get((case.method, case.workload))
            upstream = f"; known upstream: {known}" if known else ""
            pytest.skip(f"not timed: compile failed: {type(exc).__name__}: {_first_line(exc)}{upstream}")
        first_s = 0.0  # never a calibration: the next call is the first steady-state one
        error = bw.relative_error(box.pop(), ref)
        if not error <= tolerance:
            pytest.skip(f"not timed: disagrees: the compiled float32 result differs from the float64 reference by "
                        f"{error:.2e} (relative to its max) > {tolerance:.0e}")
    else:
        built = bm.build(case, device=device)
        compile_s = None
        # correctness first: this call is also the first warm-up (and, for a slow method, its calibration)
        first_s = clock.per_call(lambda: box.append(built.method()), 1)
        error = bw.relative_error(box.pop(), ref)
        assert error <= tolerance, (
            f"{case.id}: float32 result differs from the float64 reference by {error:.2e} (relative to its max) "
            f"> {tolerance:.0e}: not timed"
        )

    stats = Interleaved(built.forward, built.method, clock, first_s).run(benchmark)
    if case.compiled:
        memory = {"error": "not measured for compiled methods (the memory worker would compile again)"}
    else:
        memory = memory_probes(device).measure(case.id, slow=stats["slow"])
    benchmark.extra_info.update(
        case=case.id,
        workload=case.workload,
        param=case.param,
        param_name=bw.PARAM_NAME[case.workload],
        method=case.method,
        compiled_from=method.compiled_from,
        compile_seconds=compile_s,
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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else repr(exc)
