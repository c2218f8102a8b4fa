"""The sensitivity proof: every mutant of torch must turn each claim it names red through a recorded check.

One interpreter (the *server*) imports torch, pytest, the plugin and the claims' modules once
(a ``--collect-only`` run of the suite files), then forks one child per mutant.  The child
applies the mutant to torch and runs ``pytest.main`` in-process over the mutant's claims
(``--claim ... --results <tmp>``); the server reads the results JSON and judges each claim.
Children run in parallel (``--workers``, default 2), so the proof costs one torch import plus
a pytest run per mutant.  Interpreters that a claim starts itself (``spec.isolated.run``) are
mutated through a generated ``sitecustomize`` and ``$SPEC_MUTANT`` (see :mod:`tests.meta.mutation`).
Where ``os.fork`` does not exist, each child is a fresh interpreter (``--spawn``): slow, same verdicts.

A claim is *killed* only when a recorded check fails (results row ``failure.kind == "check"``)
or, for a claim of kind "hazard", when the hazard reports itself fixed (outcome "fixed").  A
test that fails through an uncaught exception in its own code does not kill: the proof reports
it as such.  A mutant whose patch raises (here, or in an interpreter a claim starts) is an error
of the proof, shown with its traceback.  First, the same claims run on unpatched torch (the
baseline): a claim whose tests verify nothing here (all skipped or n/a) is "not verifiable on
this torch" under its mutants too, not a survivor.

    python -m tests.meta.proof                      # every mutant, every claim on unpatched torch
    python -m tests.meta.proof --module leaf_tensors --module hooks --json proof.json
    python -m tests.meta.proof --mutant relu-is-smooth -v
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from spec.outcomes import BROKEN, FIXED, NOT_HELD, VERIFIED  # noqa: E402
from tests.meta import mutation  # noqa: E402

#: The name of the baseline job (unpatched torch).
BASELINE = "(unpatched torch)"
#: Verdicts of one (mutant, claim) pair.  The first two are kills.
KILL_VERDICTS = ("check", "hazard-fixed")
VERDICTS = KILL_VERDICTS + ("exception", "survived", "not-verifiable")
PYTEST_ARGS = (
    "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--no-claim-report", "--device", "cpu", "--tb=native",
    # spec is imported before the root conftest registers it for assertion rewriting: harmless here
    "-W", "ignore::pytest.PytestAssertRewriteWarning",
)


@dataclasses.dataclass
class Job:
    name: str  # a mutant's name, or BASELINE
    claims: tuple[str, ...]
    files: tuple[str, ...]  # the suite files (relative to ROOT) that hold the claims' tests
    modes: tuple[str, ...] | None = None  # --mode; None: the run's default modes
    module: str | None = None  # the module that registers the mutant
    skip_reason: str | None = None  # set: the job is not run (e.g. none of its modes is available)

    def as_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class JobResult:
    job: Job
    status: str  # "ran" | "apply-error" | "no-results" | "timeout" | "skipped"
    rows: list[dict]
    output: str
    error: str | None
    exitstatus: int | None
    wall: float


# ---------------------------------------------------------------------------------------- judging


def claim_ids(row: dict) -> list[str]:
    return [c for c in str(row.get("claim") or "").split(",") if c]


def rows_by_claim(rows: Iterable[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        for cid in claim_ids(row):
            out.setdefault(cid, []).append(row)
    return out


def failure_kind(row: dict) -> str | None:
    failure = row.get("failure") or {}
    if failure.get("kind"):
        return failure["kind"]
    if row.get("outcome") in FIXED:
        return "hazard-fixed"
    if row.get("outcome") in BROKEN:
        return "exception"  # a failure the plugin did not classify: not a recorded check
    return None


def verified(rows: Iterable[dict]) -> bool:
    return any(r.get("outcome") in VERIFIED for r in rows)


def judge(claim_id: str, kind: str, rows: list[dict], baseline_rows: list[dict] | None) -> tuple[str, str]:
    """The verdict on one claim under one mutant, with a one-line detail.

    ``kind`` is the claim's kind ("rule" or "hazard"); ``baseline_rows`` its rows on unpatched
    torch (None: no baseline was run).
    """
    kinds = [failure_kind(r) for r in rows]
    checks = sorted({(r.get("failure") or {}).get("check") or "?" for r, k in zip(rows, kinds) if k == "check"})
    if checks:
        return "check", f"recorded check failed: {', '.join(checks)[:200]}"
    fixed = [r for r, k in zip(rows, kinds) if k == "hazard-fixed"]
    if fixed and kind == "hazard":
        return "hazard-fixed", f"hazard reported fixed: {(fixed[0].get('message') or '').splitlines()[0][:200]}"
    crashed = [r for r, k in zip(rows, kinds) if k == "exception"]
    if crashed:
        r = crashed[0]
        f = r.get("failure") or {}
        what = f.get("type") or "exception"
        message = (r.get("message") or "").strip().splitlines()
        return "exception", (
            f"failed only through an uncaught {what} ({f.get('when', 'call')}) in {r.get('nodeid')}: "
            f"{message[0][:200] if message else ''} (not a kill: record the step with a check)"
        )
    if fixed:
        return "survived", f"a rule claim reported a hazard fixed ({fixed[0].get('nodeid')}): not a kill"
    if not rows:
        if baseline_rows is not None and not verified(baseline_rows):
            return "not-verifiable", "no test of this claim verifies anything on this torch (baseline too)"
        return "survived", "no test of this claim ran"
    if not verified(rows):
        if baseline_rows is not None and not verified(baseline_rows):
            reasons = sorted({str(r.get("reason") or r.get("outcome")) for r in rows})
            return "not-verifiable", f"skipped or n/a on this torch, unpatched too: {'; '.join(reasons)[:200]}"
        return "survived", "every test was skipped or n/a under the mutant (not on unpatched torch)"
    outcomes = sorted({str(r.get("outcome")) for r in rows})
    return "survived", f"held ({', '.join(outcomes)})"


# ---------------------------------------------------------------------------------------- jobs


def registry():
    from spec.claims import registry as build

    return build()


def claim_files(claims: Iterable[str], reg: dict) -> tuple[str, ...]:
    files = []
    for cid in claims:
        c = reg.get(cid)
        for t in c.tests if c else ():
            if t.module not in files:
                files.append(t.module)
    return tuple(files)


def plan(mutants: dict[str, mutation.Mutant], baseline: Iterable[str] | None, mode_infos: dict | None = None) -> list[Job]:
    """The jobs: the baseline first (one per suite file), then each mutant.

    A mutant with ``modes=`` runs its claims in those of its modes that are available here (none
    available: the job is not run, its claims are "not verifiable"); the baseline runs such claims
    in those modes too, besides the default ones.
    """
    from spec.modes import DEFAULT_MODES, MODE_NAMES

    reg = registry()
    mutant_jobs, extra_modes = [], {}
    for name, m in sorted(mutants.items()):
        known = tuple(c for c in m.kills if c in reg)
        job = Job(name, known, claim_files(known, reg), module=mutation.source_of(m))
        if m.modes is not None:
            wanted = list(MODE_NAMES) if m.modes == ("all",) else list(m.modes)
            available = [n for n in wanted if mode_infos is None or mode_infos[n].available]
            if available:
                job.modes = tuple(available)
                for cid in known:
                    extra_modes.setdefault(cid, set()).update(available)
            else:
                details = "; ".join(mode_infos[n].detail for n in wanted)
                job.skip_reason = f"none of its modes is available here: {details}"
        mutant_jobs.append(job)
    jobs = []
    by_file: dict[tuple[str, ...], list[str]] = {}
    for cid in (c for c in baseline or () if c in reg):
        # one job per file: the baseline is the longest run, and so it spreads over the workers
        by_file.setdefault(claim_files([cid], reg), []).append(cid)
    for files, claims in by_file.items():
        extra = set().union(*(extra_modes.get(c, set()) for c in claims))
        modes = tuple(n for n in MODE_NAMES if n in extra or n in DEFAULT_MODES) if extra else None
        jobs.append(Job(BASELINE, tuple(claims), files, modes=modes))
    return jobs + mutant_jobs


def pytest_args(job: Job, results: Path, basetemp: Path) -> list[str]:
    args = [*job.files, *PYTEST_ARGS, "--results", str(results), "--basetemp", str(basetemp)]
    args += ["--claim", ",".join(job.claims)]
    if job.modes:
        args += ["--mode", ",".join(job.modes)]
    return args


def child_main(job: Job, workdir: Path) -> int:
    """In the child (forked or a fresh interpreter): apply the mutant, run the claims, report."""
    status_path = workdir / "status.json"
    os.environ.pop(mutation.ENV, None)
    os.environ.pop(mutation.ENV_MODULE, None)
    os.environ[mutation.ENV_ERRORS] = str(workdir / "child-errors.txt")
    if job.name != BASELINE:
        os.environ[mutation.ENV] = job.name
        if job.module:
            os.environ[mutation.ENV_MODULE] = job.module
        try:
            from spec.torch_import import import_torch

            mutants = mutation.load_all([job.module] if job.module else None)
            mutation.apply(mutants[job.name], import_torch())
        except BaseException:  # noqa: BLE001 - any failure to patch is reported with its traceback
            status_path.write_text(json.dumps({"stage": "apply", "error": traceback.format_exc()}))
            return 3
    import pytest

    no_shrinking()  # registered already in a forked child; a fresh interpreter registers it here
    try:
        from spec import isolated

        isolated.forget()  # processes the server started (it starts none) are not this child's
    except (ImportError, AttributeError):
        pass
    code = pytest.main(pytest_args(job, workdir / "results.json", workdir / "tmp"))
    status_path.write_text(json.dumps({"stage": "ran", "exit": int(code)}))
    return 0


def warm_up(jobs: list[Job]) -> str:
    """Import what every child needs: torch, pytest, the plugin, the conftests and the claims' modules."""
    import contextlib
    import io

    import pytest

    from spec import isolated

    files = sorted({f for j in jobs for f in j.files})
    if not files:
        return ""
    start = getattr(isolated, "start", None)
    if start is not None:
        isolated.start = lambda code: None  # collection would start the claims' own interpreters
    out = io.StringIO()
    try:
        with tempfile.TemporaryDirectory(prefix="spec-proof-warm-") as tmp, contextlib.redirect_stdout(out):
            pytest.main([*files, *PYTEST_ARGS, "--collect-only", "--basetemp", str(Path(tmp) / "t")])
    finally:
        if start is not None:
            isolated.start = start
    return out.getvalue()


def _tail(path: Path, limit: int = 6000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-limit:]


def _collect(job: Job, workdir: Path, wall: float, timed_out: bool) -> JobResult:
    output = _tail(workdir / "output.txt")
    child_errors = _tail(workdir / "child-errors.txt", 8000) or None
    try:
        status = json.loads((workdir / "status.json").read_text())
    except (OSError, ValueError):
        status = {}
    if status.get("stage") == "apply":
        return JobResult(job, "apply-error", [], output, status["error"], None, wall)
    if child_errors:
        return JobResult(job, "apply-error", [], output, child_errors, status.get("exit"), wall)
    if timed_out:
        return JobResult(job, "timeout", [], output, None, None, wall)
    try:
        doc = json.loads((workdir / "results.json").read_text())
    except (OSError, ValueError) as exc:
        return JobResult(job, "no-results", [], output, f"the claim run wrote no results ({exc})", status.get("exit"), wall)
    return JobResult(job, "ran", list(doc.get("tests") or []), output, None, status.get("exit"), wall)


def _start_fork(job: Job, workdir: Path) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        os.setpgid(0, 0)  # a group of its own: a timeout ends its interpreters too
        fd = os.open(workdir / "output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        code = child_main(job, workdir)
    except BaseException:  # noqa: BLE001
        try:
            traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            code = 70
    finally:
        os._exit(code)


def _start_spawn(job: Job, workdir: Path) -> subprocess.Popen:
    (workdir / "job.json").write_text(json.dumps(job.as_json()))
    with open(workdir / "output.txt", "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.meta.proof", "--child", str(workdir)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def run_jobs(jobs: list[Job], *, workers: int = 2, timeout: float = 600, spawn: bool = False, log=None) -> list[JobResult]:
    """Run every job, ``workers`` at a time, and collect their results (in the jobs' order)."""
    spawn = spawn or not hasattr(os, "fork")
    results: dict[int, JobResult] = {}
    with tempfile.TemporaryDirectory(prefix="spec-proof-") as tmp:
        pending = [(i, j) for i, j in enumerate(jobs)]
        for i, j in pending:
            if j.skip_reason:
                results[i] = JobResult(j, "skipped", [], "", j.skip_reason, None, 0.0)
        pending = [(i, j) for i, j in pending if not j.skip_reason]
        running: dict[Any, tuple[int, Job, Path, float]] = {}
        try:
            while pending or running:
                while pending and len(running) < max(1, workers):
                    i, job = pending.pop(0)
                    workdir = Path(tmp) / f"job{i}"
                    workdir.mkdir()
                    handle = _start_spawn(job, workdir) if spawn else _start_fork(job, workdir)
                    running[handle] = (i, job, workdir, time.monotonic())
                finished = []
                for handle, (i, job, workdir, started) in running.items():
                    if spawn:
                        done = handle.poll() is not None
                    else:
                        pid, _ = os.waitpid(handle, os.WNOHANG)
                        done = pid != 0
                    timed_out = not done and time.monotonic() - started > timeout
                    if timed_out:
                        _kill(handle, spawn)
                    if done or timed_out:
                        finished.append(handle)
                        results[i] = _collect(job, workdir, time.monotonic() - started, timed_out)
                        if log:
                            log(results[i])
                for handle in finished:
                    del running[handle]
                if not finished:
                    time.sleep(0.02)
        finally:
            for handle in running:
                _kill(handle, spawn)
    return [results[i] for i in range(len(jobs))]


def _kill(handle, spawn: bool) -> None:
    pid = handle.pid if spawn else handle
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        pass
    try:
        handle.wait() if spawn else os.waitpid(pid, 0)
    except ChildProcessError:
        pass


# ---------------------------------------------------------------------------------------- the proof


def prepare_environment(site_dir: Path) -> None:
    """The environment every child inherits: one thread each, the mutating ``sitecustomize`` first on the path."""
    (site_dir / "sitecustomize.py").write_text(mutation.sitecustomize(ROOT))
    for key in (mutation.ENV, mutation.ENV_MODULE, mutation.ENV_ERRORS, "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER",
                "PYTEST_XDIST_TESTRUNUID", "PYTEST_CURRENT_TEST"):
        os.environ.pop(key, None)
    parts = [str(site_dir), str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    os.environ["PYTHONPATH"] = os.pathsep.join(parts)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(key, "1")
    # The DistributedDataParallel claims' ranks are forked from the mutated child (torch imported, mutant applied).
    from spec.distributed import FORK_ENV

    os.environ[FORK_ENV] = "1"


def run_proof(
    mutants: dict[str, mutation.Mutant],
    *,
    baseline: Iterable[str] | None = None,
    workers: int = 2,
    timeout: float = 600,
    spawn: bool = False,
    log=None,
) -> dict:
    """Run the proof and return its report (a JSON-able dict; see :func:`summary_lines`)."""
    started = time.monotonic()
    load_before = _load()
    with tempfile.TemporaryDirectory(prefix="spec-proof-site-") as site:
        prepare_environment(Path(site))
        os.chdir(ROOT)
        from spec.torch_import import import_torch

        torch = import_torch()
        no_shrinking()
        from spec import modes as modes_mod

        mode_infos = modes_mod.probe_all()
        jobs = plan(mutants, baseline, mode_infos)
        warm = "" if spawn else warm_up(jobs)
        if not spawn:
            import gc

            gc.collect()
            gc.freeze()  # what the children inherit is never scanned again (nor copied by their collections)
        warmed = time.monotonic()
        try:
            results = run_jobs(jobs, workers=workers, timeout=timeout, spawn=spawn, log=log)
        finally:
            if not spawn:
                import gc

                gc.unfreeze()  # let the interpreter's shutdown collect them (extension modules count leaks)
    reg = registry()
    base = _merge([r for r in results if r.job.name == BASELINE])
    base_rows = rows_by_claim(base.rows) if base else None
    report_mutants = []
    for r in results:
        if r.job.name == BASELINE:
            continue
        m = mutants[r.job.name]
        by = rows_by_claim(r.rows)
        verdicts = {}
        for cid in m.kills:
            if cid not in reg:
                verdicts[cid] = {"verdict": "survived", "detail": "no such claim"}
            elif r.status == "skipped":
                verdicts[cid] = {"verdict": "not-verifiable", "detail": r.error}
            elif r.status != "ran":
                verdicts[cid] = {"verdict": "survived", "detail": f"the mutant's run ended: {r.status}"}
            else:
                v, detail = judge(cid, reg[cid].kind, by.get(cid, []), None if base_rows is None else base_rows.get(cid, []))
                verdicts[cid] = {"verdict": v, "detail": detail}
        report_mutants.append({
            "name": m.name, "module": m.module, "doc": m.doc, "kills": list(m.kills),
            "modes": list(r.job.modes) if r.job.modes else None, "status": r.status, "error": r.error,
            "exitstatus": r.exitstatus, "wall": round(r.wall, 2), "verdicts": verdicts,
            "output": r.output if r.status != "ran" or any(v["verdict"] not in KILL_VERDICTS for v in verdicts.values())
            else "",
        })
    baseline_report = None
    if base:
        by = rows_by_claim(base.rows)
        failing = {
            cid: [f"{r['nodeid']}: {r.get('outcome')}: {(r.get('message') or '').strip()[:300]}" for r in rows
                  if r.get("outcome") in NOT_HELD]
            for cid, rows in by.items()
        }
        baseline_report = {
            "status": base.status, "error": base.error, "wall": round(base.wall, 2), "exitstatus": base.exitstatus,
            "jobs": sum(r.job.name == BASELINE for r in results),
            "claims": list(base.job.claims), "ran": sorted(by), "missing": sorted(set(base.job.claims) - set(by)),
            "failing": {cid: msgs for cid, msgs in failing.items() if msgs},
            "output": base.output if base.status != "ran" or any(failing.values()) else "",
        }
    report = {
        "torch": str(torch.__version__),
        "python": sys.version.split()[0],
        "workers": workers,
        "method": "spawn" if spawn or not hasattr(os, "fork") else "fork",
        "warm_up": round(warmed - started, 2),
        "wall": round(time.monotonic() - started, 2),
        "load": {"before": load_before, "after": _load()},
        "baseline": baseline_report,
        "mutants": report_mutants,
        "warm_up_output": warm[-3000:] if warm and "error" in warm.lower() else "",
    }
    report["summary"] = summarize(report)
    return report


PROOF_PROFILE = "autograd-spec-proof"


def no_shrinking() -> None:
    """Property-based claims stop at their first failing example: shrinking it changes no verdict, and costs.

    Registers a hypothesis profile (the suite's own, ``ci`` or ``$SPEC_HYPOTHESIS_PROFILE``, without
    the shrink and explain phases) and names it in ``$SPEC_HYPOTHESIS_PROFILE``, so that the claims'
    conftest loads it before ``@given`` captures the settings of each property test.
    """
    inherited = os.environ.pop("SPEC_HYPOTHESIS_PROFILE", None)  # it loads a profile when imported
    try:
        from hypothesis import Phase, settings

        from spec.suite import hypothesis_profiles
    except ImportError:
        return
    chosen = inherited
    base = settings.get_profile(chosen if chosen and chosen != PROOF_PROFILE else "ci")
    phases = tuple(p for p in base.phases if p.name not in ("shrink", "explain")) or (Phase.generate,)
    settings.register_profile(PROOF_PROFILE, settings(base, phases=phases, report_multiple_bugs=False))
    os.environ[hypothesis_profiles.ENV] = PROOF_PROFILE


def _merge(parts: list[JobResult]) -> JobResult | None:
    """The baseline's jobs as one result: its rows, its first problem, the longest part's wall time."""
    if not parts:
        return None
    bad = [p for p in parts if p.status != "ran"]
    first = bad[0] if bad else parts[0]
    claims = tuple(c for p in parts for c in p.job.claims)
    job = dataclasses.replace(first.job, claims=claims, files=tuple(f for p in parts for f in p.job.files))
    output = "\n".join(p.output for p in parts if p.output and (p.status != "ran" or p.exitstatus))
    return JobResult(job, first.status, [r for p in parts for r in p.rows], output[-8000:], first.error,
                     max((p.exitstatus or 0) for p in parts), max(p.wall for p in parts))


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def summarize(report: dict) -> dict:
    counts = dict.fromkeys(VERDICTS, 0)
    for m in report["mutants"]:
        for v in m["verdicts"].values():
            counts[v["verdict"]] += 1
    return {
        "mutants": len(report["mutants"]),
        "pairs": sum(counts.values()),
        "kills_by_check": counts["check"],
        "kills_by_hazard_fixed": counts["hazard-fixed"],
        "failed_only_by_exception": counts["exception"],
        "survived": counts["survived"],
        "not_verifiable": counts["not-verifiable"],
        "apply_errors": sorted(m["name"] for m in report["mutants"] if m["status"] == "apply-error"),
        "runs_ended_early": sorted(m["name"] for m in report["mutants"] if m["status"] in ("timeout", "no-results")),
    }


def summary_lines(report: dict) -> list[str]:
    s = report["summary"]
    load = report["load"]
    lines = [
        f"sensitivity proof on torch {report['torch']}: {s['mutants']} mutants, {s['pairs']} (mutant, claim) pairs, "
        f"{report['workers']} workers ({report['method']}), {report['wall']:.1f} s wall "
        f"(warm-up {report['warm_up']:.1f} s; load before {load['before']}, after {load['after']})",
        f"  kills by a recorded check: {s['kills_by_check']}; by a hazard reported fixed: {s['kills_by_hazard_fixed']}; "
        f"by an uncaught exception: 0 (pairs that failed only through one, not kills: {s['failed_only_by_exception']})",
        f"  survived: {s['survived']}; not verifiable on this torch: {s['not_verifiable']}; "
        f"mutants that failed to apply: {len(s['apply_errors'])}; runs that ended early: {len(s['runs_ended_early'])}",
    ]
    b = report["baseline"]
    if b:
        lines.append(
            f"  unpatched torch: {len(b['claims'])} claims, {len(b['failing'])} failing, {len(b['missing'])} without tests "
            f"({b.get('jobs', 1)} runs, the longest {b['wall']:.1f} s)"
        )
    for m in report["mutants"]:
        if m["status"] == "apply-error":
            lines.append(f"  ERROR {m['name']}: failed to apply:\n{_indent(m['error'])}")
        for cid, v in m["verdicts"].items():
            if v["verdict"] not in KILL_VERDICTS:
                lines.append(f"  {v['verdict'].upper()} {m['name']} / {cid}: {v['detail']}")
    return lines


def _indent(text: str | None) -> str:
    return "\n".join("      " + line for line in (text or "").rstrip().splitlines())


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.meta.proof", description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", action="append", help="load mutants only from this module of tests/meta/mutants (a section slug, e.g. leaf_tensors; repeatable)")
    parser.add_argument("--mutant", action="append", help="run only this mutant (repeatable)")
    parser.add_argument(
        "--baseline", choices=("all", "kills", "none"), default=None,
        help="claims to run on unpatched torch first: every claim, those the mutants kill, or none "
             "(default: all for the whole proof, kills when --module or --mutant narrows it)",
    )
    parser.add_argument("--workers", type=int, default=2, help="children at a time (default 2)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one mutant's run may take (default 600)")
    parser.add_argument("--spawn", action="store_true", help="a fresh interpreter per mutant instead of a forked child")
    parser.add_argument("--json", metavar="PATH", help="write the full report as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per finished run")
    parser.add_argument("--child", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        workdir = Path(args.child)
        job = Job(**json.loads((workdir / "job.json").read_text()))
        job.claims, job.files = tuple(job.claims), tuple(job.files)
        job.modes = tuple(job.modes) if job.modes else None
        return child_main(job, workdir)
    try:
        mutants = mutation.load_all(args.module)
    except mutation.MutantError as exc:
        print(f"proof: {exc}", file=sys.stderr)
        return 4
    if args.mutant:
        unknown = sorted(set(args.mutant) - set(mutants))
        if unknown:
            print(f"proof: no mutant named {', '.join(unknown)}", file=sys.stderr)
            return 4
        mutants = {k: m for k, m in mutants.items() if k in args.mutant}
    which = args.baseline or ("kills" if args.module or args.mutant else "all")
    if which == "all":
        baseline = list(registry())
    elif which == "kills":
        baseline = list(dict.fromkeys(c for m in mutants.values() for c in m.kills))
    else:
        baseline = []

    def log(r: JobResult) -> None:
        if args.verbose:
            print(f"  {r.wall:6.1f} s  {r.status:11s} {r.job.name}", flush=True)

    report = run_proof(mutants, baseline=baseline, workers=args.workers, timeout=args.timeout, spawn=args.spawn, log=log)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    print("\n".join(summary_lines(report)))
    s = report["summary"]
    b = report["baseline"]
    bad = s["survived"] or s["failed_only_by_exception"] or s["apply_errors"] or s["runs_ended_early"]
    bad = bad or (b and (b["status"] != "ran" or b["failing"] or b["missing"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
