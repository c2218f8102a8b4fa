"""Two gloo ranks on 127.0.0.1 for the DistributedDataParallel claims, started early, always torn down.

The claims of a distributed section do not start a process group themselves.  Their module names a
*scenario module* (a module whose ``SCENARIOS`` maps names to ``fn(rank, world_size) -> JSON value``);
the harness runs every scenario of it in one job of two worker processes and each claim reads what
its scenario reported:

    @distributed.prefetch("spec.suite.ddp")          # start the job at collection
    def test_...(check):
        ranks = distributed.results("spec.suite.ddp")  # [rank 0's reports, rank 1's reports]

The job is a fresh process started through :mod:`spec.isolated` (so the plugin starts it at
collection, the sensitivity proof's mutants reach it through ``sitecustomize``, and a session that
never collects it kills it).  On Linux it is forked from the isolated snippets' zygote, which has
imported torch and nothing else, and it forks the two ranks from itself (:func:`fork_job`), so the
job costs its scenarios, not three torch imports.  Elsewhere that *launcher* is a new interpreter
that imports no torch: it starts the two ranks (``python -m spec.distributed MODULE RANK 0``) and
waits for them until a deadline (:func:`launch`).  Each rank dies
with its launcher (``PR_SET_PDEATHSIG`` on Linux) and ends itself at the deadline (a watchdog),
creates the ``TCPStore`` (rank 0 hosts it on a free port of 127.0.0.1 that it binds itself and
publishes in a file of the launcher's, so no other process can take the port between its choice and
its use; rank 1 reads it there, with a deadline) and the gloo process group with a
bounded timeout, runs every scenario (one scenario's exception is its report, the others go on),
meets the other rank at a barrier after each, waits through the store until every rank is done
(:func:`_leave_together`), reports as one JSON line and ends without ``destroy_process_group``.  A rank that fails or hangs ends the job: the launcher kills both and reports one
line, which every claim of the module raises as :class:`DistributedJobError`.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from spec import isolated

WORLD_SIZE = 2
#: Seconds a rank waits for the store, the process group and each collective.
INIT_TIMEOUT = 30.0
#: Seconds the whole job (both ranks, every scenario) may take.
JOB_TIMEOUT = 90.0
MARK = "@@spec-ddp@@"
ROOT = str(Path(__file__).resolve().parents[1])


class DistributedJobError(RuntimeError):
    """The two-rank job failed or hung: no claim of its module can be checked."""


def job_code(module: str, timeout: float = JOB_TIMEOUT) -> str:
    """The launcher's code (run by :func:`spec.isolated.run`, which gives it ``report``)."""
    return textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {ROOT!r})
        from spec.distributed import fork_job, launch
        # Forked from spec.isolated's zygote, torch is imported already: fork the ranks from here (cheap).
        # A new interpreter of its own (not on Linux): start them as new interpreters.
        report(fork_job({module!r}, timeout={timeout!r}) if "torch" in sys.modules
               else launch({module!r}, timeout={timeout!r}))
        """)


#: Set (to "1") by the sensitivity proof: the ranks are forked from the test's process (which imported torch and
#: applied the mutant already) instead of started as fresh interpreters, so a mutant's job costs its scenarios only.
FORK_ENV = "SPEC_DDP_FORK"


def _forking() -> bool:
    return os.environ.get(FORK_ENV) == "1"


def prefetch(module: str):
    """Decorate a claim's test: the plugin starts ``module``'s job at collection (once per session)."""
    if _forking():
        return lambda fn: fn
    return isolated.prefetch(lambda **_: job_code(module))


#: What each scenario module's job reported, once per interpreter (the job is deterministic).
_RESULTS: dict[str, dict[str, Any]] = {}


def results(module: str) -> list[dict[str, Any]]:
    """The reports of ``module``'s scenarios, one dict per rank; the job runs now if nothing started it."""
    if module not in _RESULTS and _forking():
        _RESULTS[module] = fork_job(module)
    if module not in _RESULTS:
        try:
            _RESULTS[module] = isolated.run(job_code(module), timeout=JOB_TIMEOUT + 15)
        except isolated.IsolatedError as exc:
            last = [ln for ln in str(exc).splitlines() if ln.strip()]
            _RESULTS[module] = {"error": f"the launcher failed: {last[0] if last else exc}"}
    out = _RESULTS[module]
    if "error" in out:
        raise DistributedJobError(f"two-rank gloo job of {module}: {out['error']}")
    return out["ranks"]


def scenario(ranks: list[dict[str, Any]], name: str) -> list[Any]:
    """One scenario's reports, one per rank (a scenario that raised reports ``{"error": ...}``)."""
    return [r[name] for r in ranks]


# ---------------------------------------------------------------- the launcher (no torch)


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "Error" in ln or "error" in ln]
    return (errors or lines or ["no output"])[-1][:300]


def launch(module: str, *, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
    """Run ``module``'s scenarios on two ranks; ``{"ranks": [...]}`` or ``{"error": "one line"}``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), ROOT) if p)
    env.update(MASTER_ADDR="127.0.0.1", OMP_NUM_THREADS="1", SPEC_DDP_DEADLINE=str(time.time() + timeout))
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    # Rank 0 binds a free port itself (a port picked here and released could be taken before rank 0 binds it)
    # and publishes it in this file, which rank 1 reads.
    rendezvous = tempfile.mkdtemp(prefix="spec-ddp-")
    env["SPEC_DDP_PORT_FILE"] = os.path.join(rendezvous, "port")
    port = 0
    procs: list[subprocess.Popen] = []
    outs = []
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    deadline = time.monotonic() + timeout
    try:
        for rank in range(WORLD_SIZE):
            out = tempfile.TemporaryFile("w+")
            outs.append(out)
            procs.append(subprocess.Popen([sys.executable, "-m", "spec.distributed", module, str(rank), str(port)],
                                          stdout=out, stderr=subprocess.STDOUT, text=True, env=env))
        while time.monotonic() < deadline:
            codes = [p.poll() for p in procs]
            if all(c == 0 for c in codes):
                break
            if any(c not in (None, 0) for c in codes):
                rank, code = _first_failure(procs)
                outs[rank].seek(0)
                return {"error": f"rank {rank} exited {code}: {_one_line(outs[rank].read())}"}
            time.sleep(0.02)
        else:
            late = [r for r, p in enumerate(procs) if p.poll() is None]
            return {"error": f"rank {late[0]} did not finish within {timeout:.0f} s (killed)"}
        ranks = []
        for rank, out in enumerate(outs):
            out.seek(0)
            lines = [ln for ln in out.read().splitlines() if ln.startswith(MARK)]
            if len(lines) != 1:
                return {"error": f"rank {rank} printed {len(lines)} reports"}
            ranks.append(json.loads(lines[0][len(MARK):]))
        return {"ranks": ranks}
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for out in outs:
            out.close()
        shutil.rmtree(rendezvous, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)


def _first_failure(procs: list[subprocess.Popen], grace: float = 2.0) -> tuple[int, int]:
    """The rank to blame once one has failed: the others get ``grace`` seconds to end too (a rank that dies makes
    its peer's next collective raise), then a rank that died without an exception of its own (an exit code other
    than 1: killed, crashed, ``os._exit``) before one that raised, the lower rank first."""
    end = time.monotonic() + grace
    while any(p.poll() is None for p in procs) and time.monotonic() < end:
        time.sleep(0.02)
    failed = [(rank, p.poll()) for rank, p in enumerate(procs) if p.poll() not in (None, 0)]
    return min(failed, key=lambda rc: (rc[1] == 1, rc[0]))


def fork_job(module: str, *, timeout: float = JOB_TIMEOUT) -> dict[str, Any]:
    """:func:`launch`'s job with the ranks forked from this process (the proof's way): same reports, same limits."""
    rendezvous = tempfile.mkdtemp(prefix="spec-ddp-")
    files = [os.path.join(rendezvous, f"rank{r}.json") for r in range(WORLD_SIZE)]
    pids: list[int] = []
    try:
        for rank in range(WORLD_SIZE):
            pid = os.fork()
            if pid == 0:  # the rank: run the scenarios, write the reports, never return into pytest
                code = 1
                try:
                    _die_with_parent()
                    os.environ.update(SPEC_DDP_PORT_FILE=os.path.join(rendezvous, "port"), MASTER_ADDR="127.0.0.1")
                    import torch

                    torch.set_num_threads(1)
                    out: dict[str, Any] = {"reports": run_rank(module, rank, 0)}
                except BaseException as exc:  # noqa: BLE001 - the rank's failure is its report
                    out = {"error": f"{type(exc).__name__}: {exc}"}
                try:
                    with open(files[rank] + ".tmp", "w") as f:
                        json.dump(out, f)
                    os.replace(files[rank] + ".tmp", files[rank])
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
        deadline = time.monotonic() + timeout
        codes: dict[int, int] = {}
        while len(codes) < len(pids) and time.monotonic() < deadline:
            for rank, pid in enumerate(pids):
                if rank not in codes:
                    done, status = os.waitpid(pid, os.WNOHANG)
                    if done:
                        codes[rank] = os.waitstatus_to_exitcode(status)
            time.sleep(0.01)
        if len(codes) < len(pids):
            late = min(r for r in range(len(pids)) if r not in codes)
            return {"error": f"rank {late} did not finish within {timeout:.0f} s (killed)"}
        missing = [rank for rank, path in enumerate(files) if not os.path.exists(path)]
        if missing:  # a rank that died is the cause; its peer's error is only the consequence
            return {"error": f"rank {missing[0]} exited {codes[missing[0]]} without a report"}
        ranks = []
        for rank, path in enumerate(files):
            with open(path) as f:
                out = json.load(f)
            if "error" in out:
                return {"error": f"rank {rank}: {out['error'][:300]}"}
            ranks.append(out["reports"])
        return {"ranks": ranks}
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        shutil.rmtree(rendezvous, ignore_errors=True)


# ---------------------------------------------------------------- a rank


def _die_with_parent() -> None:
    """End this rank when its launcher ends (however it ends), and at the job's deadline."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    deadline = float(os.environ.get("SPEC_DDP_DEADLINE", time.time() + JOB_TIMEOUT))

    def watch() -> None:
        while time.time() < deadline and os.getppid() == parent:
            time.sleep(0.2)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def _store(rank: int, port: int, wait) -> Any:
    """The job's TCPStore: rank 0 hosts it on a port it binds itself and publishes; rank 1 reads the port."""
    import torch.distributed as dist

    path = os.environ.get("SPEC_DDP_PORT_FILE")
    if not path or port:
        return dist.TCPStore("127.0.0.1", port, WORLD_SIZE, rank == 0, timeout=wait)
    if rank == 0:
        store = dist.TCPStore("127.0.0.1", 0, WORLD_SIZE, True, timeout=wait, wait_for_workers=False)
        with open(path + ".tmp", "w") as f:
            f.write(str(store.port))
        os.replace(path + ".tmp", path)
        return store
    deadline = time.monotonic() + INIT_TIMEOUT
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"rank 0 published no port within {INIT_TIMEOUT:.0f} s")
        time.sleep(0.01)
    with open(path) as f:
        return dist.TCPStore("127.0.0.1", int(f.read()), WORLD_SIZE, False, timeout=wait)


def run_rank(module: str, rank: int, port: int) -> dict[str, Any]:
    import datetime

    import torch.distributed as dist

    wait = datetime.timedelta(seconds=INIT_TIMEOUT)
    store = _store(rank, port, wait)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=WORLD_SIZE, timeout=wait)
    reports = {}
    for name, fn in importlib.import_module(module).SCENARIOS.items():
        try:
            reports[name] = fn(rank, WORLD_SIZE)
        except Exception as exc:  # noqa: BLE001 - the scenario's outcome is its report
            reports[name] = {"error": f"{type(exc).__name__}: {exc}"}
        dist.barrier()
    _leave_together(store, rank)
    return reports


def _leave_together(store: Any, rank: int) -> None:
    """Wait, through the store and not through gloo, until every rank has run its last collective, and keep rank 0
    (the store's host) until the others have made their last store call; each rank then ends (``os._exit``)
    without ``destroy_process_group``, and the process group ends with the processes.  On torch 2.0,
    ``destroy_process_group`` sometimes never returned, and a thread could not bound it (about one job in four of
    the harness's own meta test scenarios, none in 20 runs of the DDP claims' job); a rank that ends anyway
    gains nothing from it."""
    def wait_for(key: str, count: int) -> None:
        deadline = time.monotonic() + INIT_TIMEOUT
        while store.add(key, 0) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"rank {rank}: the other rank did not finish within {INIT_TIMEOUT:.0f} s")
            time.sleep(0.005)

    store.add("spec-finished", 1)
    wait_for("spec-finished", WORLD_SIZE)
    if rank == 0:
        wait_for("spec-left", WORLD_SIZE - 1)
    else:
        store.add("spec-left", 1)


def main(argv: list[str]) -> int:
    module, rank, port = argv[0], int(argv[1]), int(argv[2])
    _die_with_parent()
    reports = run_rank(module, rank, port)
    print(MARK + json.dumps(reports), flush=True)
    sys.stderr.flush()
    os._exit(0)  # no interpreter teardown of the process group (see _leave_together)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
