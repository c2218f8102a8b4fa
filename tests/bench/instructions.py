"""Instruction counts of the benchmark cases under valgrind's callgrind: one valgrind process for many cases.

Wall time on a shared 2-core VM moves by tens of per cent between two runs of one torch; the number of
instructions a call executes does not (two runs of every eager case, one torch: see
``docs/bench/instructions/``). So every eager case is also counted, the way
``torch.utils.benchmark.Timer.collect_callgrind`` counts, but with torch imported under valgrind once:

    python -m tests.bench.instructions --out results/bench/instructions-torch2.15.0.json \
        [--cases ID,ID | --subset] [--patch tanh-backward-twice] [--into results/bench/bench-torch2.15.0.json]

The driver (this module, outside valgrind) starts ``valgrind --tool=callgrind --collect-atstart=no
--instr-atstart=no python -m tests.bench.instructions --worker ...``. The worker imports torch, builds
every case and calls its method and forward pass once (the warm-up: lazy initialisation, imports, the
allocator), all uninstrumented (near native speed: the expensive first calls never run instrumented).
Then callgrind's instrumentation starts and stays on (a second start after a stop gave negative totals
in valgrind 3.19), and for each case the worker switches collection on, calls the method ``calls``
times (one by default: counts are deterministic), dumps the counters under the case's name, calls the
forward pass ``calls`` times, dumps again, and switches collection off. ``count_runs`` can also count
some cases a second time (``repeat``) and every case again after applying a patch (``then_patch``), in
the same process: the live gate (``tests/bench/gate_live_check.py``). The client
requests (``CALLGRIND_START_INSTRUMENTATION``, ``CALLGRIND_TOGGLE_COLLECT``, ``CALLGRIND_DUMP_STATS_AT``)
come from a 10-line C helper compiled here with the system compiler against valgrind's
``callgrind.h``; without one, torch's own ``torch._C._valgrind_toggle`` (what torch.utils.benchmark
uses) toggles collection and the instrumentation stays on from the start (slower, same counts).

What counts cannot see: memory bandwidth and cache misses (an instruction that waits for DRAM counts
once), threading (one thread here; contention and parallel speed-up are invisible), the GPU (a kernel
launch is a few host instructions, whatever the kernel does), and the frequency the CPU runs at. They
are also specific to the CPU's instruction set: torch picks AVX2 or AVX-512 kernels at run time
(``torch.backends.cpu.get_cpu_capability()``), so the document records it and a comparison refuses two
different ones.

``--patch tanh-backward-twice`` is the gate's proof of sensitivity: it registers a kernel for
``aten::tanh_backward`` at the ``ADInplaceOrView`` dispatch key that redispatches to torch's own
kernel twice (the derivative of tanh computed twice, the first result returned; double backward,
forward AD and torch.func reach it too) and counts its calls per case (``patched_calls``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: a budgeted subset for CI: small cases that call tanh's backward (nested autograd, torch.func, forward AD) and
#: two that do not (the hand-written Taylor recurrences); the live check counts them unpatched and patched
SUBSET = ("derivative-k2-nested_grad", "laplacian-d2-func_jacrev", "laplacian-d2-forward_ad", "derivative-k2-analytic",
          "laplacian-d2-analytic")
#: the SUBSET's cases that call ``aten::tanh_backward`` (docs/bench/instructions/patched.json: patched_calls > 0)
SUBSET_TANH_BACKWARD = frozenset({"derivative-k2-nested_grad", "laplacian-d2-func_jacrev", "laplacian-d2-forward_ad"})
#: method calls (and forward calls) counted per case; the counts are per call
CALLS = 1
PATCHES = ("tanh-backward-twice",)
SCHEMA = 1

_HELPER_C = r"""
#include <valgrind/valgrind.h>
#include <valgrind/callgrind.h>
int cg_running(void) { return RUNNING_ON_VALGRIND; }
void cg_start(void) { CALLGRIND_START_INSTRUMENTATION; }
void cg_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
void cg_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
"""


def build_helper(folder: Path) -> Path | None:
    """Compile the client-request helper into ``folder``; None without a C compiler or valgrind's headers."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        return None
    src, lib = folder / "cg_helper.c", folder / "cg_helper.so"
    src.write_text(_HELPER_C)
    done = subprocess.run([cc, "-O1", "-shared", "-fPIC", "-o", str(lib), str(src)], capture_output=True, text=True)
    return lib if done.returncode == 0 else None


class Requests:
    """The callgrind client requests, from the helper library or (collection only) from torch."""

    def __init__(self, helper: str | None) -> None:
        import ctypes

        import torch

        self.lib = ctypes.CDLL(helper) if helper else None
        if self.lib is not None:
            self.lib.cg_dump.argtypes = [ctypes.c_char_p]
        self.torch = torch
        self.instrumented = False

    def on(self) -> None:
        if self.lib is not None:
            if not self.instrumented:  # once: a second START after a STOP left callgrind's totals negative
                self.lib.cg_start()
                self.instrumented = True
            self.lib.cg_toggle()
        else:
            self.torch._C._valgrind_toggle()

    def dump(self, name: str) -> None:
        if self.lib is not None:
            self.lib.cg_dump(name.encode())
        else:  # torch dumps and toggles: toggle back on
            self.torch._C._valgrind_toggle_and_dump_stats()
            self.torch._C._valgrind_toggle()

    def off(self) -> None:
        if self.lib is not None:
            self.lib.cg_toggle()
        else:
            self.torch._C._valgrind_toggle()


def install_patch(name: str) -> dict[str, int]:
    """Apply ``name`` (see PATCHES); returns the counter of its calls. The library object is kept alive here."""
    import torch

    if name != "tanh-backward-twice":
        raise SystemExit(f"unknown patch {name!r} (known: {', '.join(PATCHES)})")
    counter = {"calls": 0}
    op = torch.ops.aten.tanh_backward.default
    after = torch._C._after_ADInplaceOrView_keyset

    def tanh_backward_twice(keyset, grad, output):
        counter["calls"] += 1
        ks = keyset & after
        result = op.redispatch(ks, grad, output)
        op.redispatch(ks, grad, output)  # the same derivative again: real work inside torch's backward
        return result

    lib = torch.library.Library("aten", "IMPL")
    lib.impl("tanh_backward", tanh_backward_twice, "ADInplaceOrView", with_keyset=True)
    _KEEP.append(lib)
    return counter


_KEEP: list[Any] = []


def eager_cases() -> list[str]:
    """Every eager case that applies (compiled methods are not counted: their first call compiles)."""
    from tests.bench import methods as bm

    return [c.id for c in bm.all_cases() if not c.compiled and c.na_reason is None]


def _measure(req: Requests, label: str, built, calls: int, counter: dict | None) -> dict[str, Any]:
    """One collected stretch: ``calls`` method calls, dumped as ``label|method``; ``calls`` forward passes, dumped as
    ``label|forward``. The garbage collector runs before it (cheap: everything older is frozen) and not inside."""
    gc.collect()
    gc.disable()
    before = counter["calls"] if counter else 0
    req.on()
    for _ in range(calls):
        built.method()
    req.dump(f"{label}|method")
    for _ in range(calls):
        built.forward()
    req.dump(f"{label}|forward")
    req.off()
    gc.enable()
    entry: dict[str, Any] = {"case": label, "calls": calls}
    if counter:
        entry["patched_calls"] = (counter["calls"] - before) // calls
    return entry


def worker(args) -> int:
    """Inside valgrind: count each case; write what was done (the counts are in callgrind's dumps).

    Phase 1, callgrind's instrumentation still off (near native speed): build every case and call its method and
    forward pass once (the warm-up: lazy initialisation, imports, the allocator). Phase 2, instrumentation on for
    good: one collected stretch per case (``_measure``); then the ``--repeat`` cases again (labels ``ID#2``); then,
    with ``--then-patch``, the patch applied, each case's method called once more uncollected (the patched path's
    own warm-up) and collected again (labels ``PATCH:ID``). The expensive first calls thus run uninstrumented."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    import torch

    torch.set_num_threads(1)
    from tests.bench import methods as bm

    req = Requests(os.environ.get("SPEC_CG_HELPER") or None)
    counter = install_patch(args.patch) if args.patch else None
    done, built = [], {}
    for case_id in args.cases.split(","):
        case = bm.parse_case_id(case_id)
        why = bm.REGISTRY[case.method].unavailable()
        if why:
            done.append({"case": case_id, "skipped": why})
            continue
        built[case_id] = bm.build(case)
        built[case_id].method()  # the warm-up
        built[case_id].forward()
    gc.collect()
    gc.freeze()  # the objects of torch and of the built cases: no collection scans them again
    for case_id, b in built.items():
        done.append(_measure(req, case_id, b, args.calls, counter))
    repeats = [_measure(req, f"{cid}#2", built[cid], args.calls, counter)
               for cid in filter(None, (args.repeat or "").split(",")) if cid in built]
    then = []
    if args.then_patch:
        counter2 = install_patch(args.then_patch)
        for case_id, b in built.items():
            b.method()  # the patched path's warm-up (instrumented, not collected)
            then.append(_measure(req, f"{args.then_patch}:{case_id}", b, args.calls, counter2))
    info = {"torch": torch.__version__, "python": platform.python_version(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
            "done": done, "repeats": repeats, "then": then}
    Path(args.worker_out).write_text(json.dumps(info))
    return 0


_DESC = re.compile(r"^desc: Trigger: Client Request: (.*)$", re.M)
_TOTAL = re.compile(r"^(?:summary|totals): (\d+)", re.M)


def read_dumps(folder: Path) -> dict[str, int]:
    """Dump name -> instructions (Ir), from every callgrind output file in ``folder``."""
    out: dict[str, int] = {}
    for path in sorted(folder.glob("cg.out*")):
        text = path.read_text(errors="replace")
        name, total = _DESC.search(text), _TOTAL.search(text)
        if name and total:
            out[name.group(1).strip()] = int(total.group(1))
    return out


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def valgrind_version() -> str | None:
    exe = shutil.which("valgrind")
    if exe is None:
        return None
    return subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip() or None


def _rows(entries: list[dict], dumps: dict[str, int], calls: int, strip: str = "") -> tuple[dict, dict]:
    """The worker's entries and callgrind's dumps -> (counted, not counted) by case ID (``strip``: a label prefix)."""
    counted, not_counted = {}, {}
    for entry in entries:
        label = entry["case"]
        cid = label[len(strip):] if strip and label.startswith(strip) else label
        if "skipped" in entry:
            not_counted[cid] = entry["skipped"]
            continue
        m, f = dumps.get(f"{label}|method"), dumps.get(f"{label}|forward")
        if m is None or f is None:
            not_counted[cid] = "no callgrind dump (the worker ran outside valgrind?)"
            continue
        if not (0 < m < 2**62 and 0 < f < 2**62):
            raise RuntimeError(f"{label}: callgrind reported {m} and {f} instructions: not a count")
        row = {"method": m // calls, "forward": f // calls, "ratio": m / f}
        if "patched_calls" in entry:
            row["patched_calls"] = entry["patched_calls"]
        counted[cid] = row
    return counted, not_counted


def count_runs(cases: list[str], patch: str | None = None, calls: int = CALLS, timeout: float = 3600,
               repeat: list[str] | tuple[str, ...] = (), then_patch: str | None = None) -> dict[str, Any]:
    """Run the worker under callgrind once for ``cases``: ``{"counts": record, "repeat": record or None, "then":
    record or None}``; ``counts`` is the ``instructions`` record of a benchmark JSON, ``repeat`` the ``repeat``
    cases counted again in the same process, ``then`` every case counted again with ``then_patch`` applied (all in
    the same process, with the same fingerprint)."""
    version = valgrind_version()
    if version is None:
        raise RuntimeError("valgrind is not on PATH")
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="spec-cg-") as tmp:
        folder = Path(tmp)
        helper = build_helper(folder)
        env = dict(os.environ, PYTHONHASHSEED="0", SPEC_CG_HELPER=str(helper or ""),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]),
                                                            os.environ.get("PYTHONPATH")])))
        cmd = ["valgrind", "--tool=callgrind", "--collect-atstart=no", f"--instr-atstart={'no' if helper else 'yes'}",
               "--dump-instr=no", "--dump-line=no", f"--callgrind-out-file={folder / 'cg.out'}",
               sys.executable, "-m", "tests.bench.instructions", "--worker", "--cases", ",".join(cases),
               "--calls", str(calls), "--worker-out", str(folder / "worker.json")]
        if patch:
            cmd += ["--patch", patch]
        if repeat:
            cmd += ["--repeat", ",".join(repeat)]
        if then_patch:
            cmd += ["--then-patch", then_patch]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or not (folder / "worker.json").is_file():
            raise RuntimeError(f"the worker under valgrind failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        info = json.loads((folder / "worker.json").read_text())
        dumps = read_dumps(folder)
    wall = round(time.time() - started, 1)

    def record(entries: list[dict], patched: str | None, strip: str = "") -> dict[str, Any]:
        counted, not_counted = _rows(entries, dumps, calls, strip)
        return {
            "schema": SCHEMA,
            "valgrind": version,
            "tool": "callgrind, Ir (instructions executed) per call; torch imported once under valgrind, every case "
                    "built and warmed up uninstrumented, then collection toggled around each case",
            "torch": info["torch"],
            "python": info["python"],
            "cpu": cpu_name(),
            "cpu_capability": info["cpu_capability"],
            "threads": info["threads"],
            "calls": calls,
            "patch": patched,
            "client_requests": "helper library (instrumentation off outside the cases)" if helper else "torch._C",
            "wall_s": wall,
            "cases": counted,
            "not_counted": not_counted,
        }

    counts = record(info["done"], patch)
    rep = record(info.get("repeats") or [], patch) if repeat else None
    if rep is not None:  # "ID#2" -> ID
        rep["cases"] = {k.removesuffix("#2"): v for k, v in rep["cases"].items()}
    then = record(info.get("then") or [], then_patch, f"{then_patch}:") if then_patch else None
    return {"counts": counts, "repeat": rep, "then": then}


def count(cases: list[str], patch: str | None = None, calls: int = CALLS, timeout: float = 3600) -> dict[str, Any]:
    """Run the worker under callgrind once for ``cases``; the ``instructions`` record of a benchmark JSON."""
    return count_runs(cases, patch, calls, timeout)["counts"]


def document(record: dict[str, Any]) -> dict[str, Any]:
    """An instruction-only benchmark document (no wall times): what ``python -m spec bench-report`` loads."""
    from tests.bench import methods as bm

    return {"benchmarks": [], "machine_info": {}, "datetime": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "autograd_spec": {"schema": 2, "torch": record["torch"], "python": record["python"],
                              "threads": record["threads"], "instructions": record, **bm.describe(),
                              "not_timed": []}}


def merge_records(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """``new`` added to ``old``: where both were counted on the same setup (torch build, patch and the comparison's
    fingerprint), the union of their cases (``new``'s count wins where both have one), each case's "not counted"
    reason kept only while no process counted it, and ``processes`` listing each process's cases and wall time;
    elsewhere ``new`` alone (counts of two setups are never mixed in one record)."""
    from spec.bench.instructions import FINGERPRINT

    keys = ("torch", "patch", *FINGERPRINT)
    if not old or not old.get("cases") or any(old.get(k) != new.get(k) for k in keys):
        return {**new, "processes": [_process(new)]}
    cases = {**old["cases"], **new["cases"]}
    not_counted = {c: why for c, why in {**(old.get("not_counted") or {}), **new["not_counted"]}.items()
                   if c not in cases}
    processes = old.get("processes") or [_process(old)]
    processes = [p for p in processes if set(p["cases"]) - set(new["cases"])] + [_process(new)]
    return {**new, "cases": cases, "not_counted": not_counted, "processes": processes,
            "wall_s": round(sum(p["wall_s"] for p in processes), 1)}


def _process(rec: dict[str, Any]) -> dict[str, Any]:
    return {"cases": sorted(rec["cases"]), "wall_s": rec["wall_s"], "tool": rec.get("tool")}


def merge_into(bench_json: Path, record: dict[str, Any]) -> None:
    """Add the counts to a benchmark JSON (``autograd_spec.instructions``, merged with the counts already there:
    ``merge_records``) and each of its rows' ``extra_info``."""
    doc = json.loads(bench_json.read_text())
    meta = doc.setdefault("autograd_spec", {})
    record = meta["instructions"] = merge_records(meta.get("instructions"), record)
    for bench in doc.get("benchmarks", []):
        extra = bench.get("extra_info") or {}
        row = record["cases"].get(extra.get("case"))
        if row is not None:
            extra["instructions"] = row["method"]
            extra["forward_instructions"] = row["forward"]
    bench_json.write_text(json.dumps(doc, indent=4) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.instructions", description=__doc__.splitlines()[0])
    p.add_argument("--out", help="write an instruction-only benchmark document here")
    p.add_argument("--into", help="merge the counts into this benchmark JSON (pytest tests/bench --benchmark-json)")
    p.add_argument("--cases", default=None, help="comma-separated case IDs (default: every eager case)")
    p.add_argument("--subset", action="store_true", help=f"the budgeted CI subset: {', '.join(SUBSET)}")
    p.add_argument("--patch", choices=PATCHES, default=None, help="count torch with this patch applied")
    p.add_argument("--calls", type=int, default=CALLS)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--worker-out", help=argparse.SUPPRESS)
    p.add_argument("--repeat", help=argparse.SUPPRESS)
    p.add_argument("--then-patch", choices=PATCHES, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:  # no interpreter teardown under valgrind (a minute on a loaded VM): the counts are dumped
        code = worker(args)
        sys.stdout.flush()
        os._exit(code)
    cases = list(SUBSET) if args.subset else (args.cases.split(",") if args.cases else eager_cases())
    if valgrind_version() is None:
        print("valgrind is not on PATH: no instruction counts (the wall-time benchmarks stand alone)")
        return 0
    record = count(cases, args.patch, args.calls)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(document(record), indent=1) + "\n")
    if args.into:
        merge_into(Path(args.into), record)
    print(f"counted {len(record['cases'])} case(s) in {record['wall_s']:.0f} s ({record['valgrind']}, torch "
          f"{record['torch']}, {record['cpu_capability']}); not counted: {len(record['not_counted'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
