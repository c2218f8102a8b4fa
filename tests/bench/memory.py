"""Peak memory of one call of a benchmark case, measured away from the timing process.

CPU: a worker process (``python -m tests.bench.memory --device cpu``) reads case IDs on
stdin, one a line, and answers one JSON line each. For each case it forks a child (so
that no case inherits another's heap), which builds the workload,
calls the method once to warm up, resets the kernel's peak-RSS counter
(``/proc/self/clear_refs``), calls it again and reports the rise of the peak RSS (VmHWM)
above the RSS before the call; the same for the plain forward pass. glibc is told to
serve every block of 64 KiB and more with mmap, so freed tensors go back to the OS and
the RSS follows the live tensors.

CUDA: in the timing process, with the caching allocator's peak
(``torch.cuda.reset_peak_memory_stats`` / ``max_memory_allocated``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

WORKER_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "65536",
    "MALLOC_TRIM_THRESHOLD_": "0",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
HOW_CPU = "peak RSS rise during one call, separate process"
HOW_CUDA = "CUDA caching allocator peak above the allocation before the call"


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"{field} not in /proc/self/status")


def rss_peak_of(fn: Callable[[], Any]) -> int:
    """Bytes by which the peak RSS rises over the current RSS while ``fn`` runs (Linux)."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM to the current RSS
    base = _status_kib("VmRSS")
    out = fn()
    peak = _status_kib("VmHWM")
    del out
    return max(0, peak - base) * 1024


def cuda_peak_of(fn: Callable[[], Any], device: str) -> int:
    import torch

    torch.cuda.synchronize(device)
    gc.collect()
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    out = fn()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device)
    del out
    return max(0, peak - base)


def measure_case(case_id: str, device: str, calls: int = 2) -> dict[str, Any]:
    """Peak bytes of the forward pass and of the method for ``case_id`` (``calls`` - 1 warm-up calls first)."""
    from tests.bench.methods import build, parse_case_id

    built = build(parse_case_id(case_id), device=device)
    peak = (lambda fn: cuda_peak_of(fn, device)) if device.startswith("cuda") else rss_peak_of
    out: dict[str, Any] = {"case": case_id, "how": HOW_CUDA if device.startswith("cuda") else HOW_CPU}
    for name, fn in (("forward", built.forward), ("method", built.method)):
        for _ in range(calls - 1):
            fn()
        out[f"{name}_peak_bytes"] = peak(fn)
    return out


class MemoryProbe:
    """The timing process's handle on the CPU worker (started on first use) or the in-process CUDA probe."""

    def __init__(self, device: str, root: str) -> None:
        self.device, self.root = device, root
        self.proc: subprocess.Popen | None = None

    def measure(self, case_id: str, slow: bool = False) -> dict[str, Any]:
        calls = 1 if slow else 2  # a slow method (> 2 s a call) gets no warm-up call
        if self.device.startswith("cuda"):
            return measure_case(case_id, self.device, calls)
        if self.proc is None or self.proc.poll() is not None:
            env = dict(os.environ, **WORKER_ENV)
            env["PYTHONPATH"] = os.pathsep.join([self.root, env.get("PYTHONPATH", "")])
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.bench.memory", "--device", self.device],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
                cwd=self.root,
            )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"case": case_id, "calls": calls}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            return {"case": case_id, "error": "memory worker died"}
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        print(json.dumps(_in_child(request, args.device)), flush=True)
    return 0


def _answer(request: dict, device: str) -> dict[str, Any]:
    try:
        return measure_case(request["case"], device, int(request.get("calls", 2)))
    except Exception as exc:  # reported to the benchmark, which records it
        return {"case": request.get("case"), "error": f"{type(exc).__name__}: {exc}".splitlines()[0]}


def _in_child(request: dict, device: str) -> dict[str, Any]:
    """Measure in a forked child: a fresh heap for every case, torch already imported."""
    if not hasattr(os, "fork"):
        return _answer(request, device)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        try:
            data = json.dumps(_answer(request, device)).encode()
            with os.fdopen(w, "wb") as fh:
                fh.write(data)
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        return {"case": request.get("case"), "error": f"memory child died (wait status {status})"}
    return json.loads(data)


if __name__ == "__main__":
    sys.exit(main())
