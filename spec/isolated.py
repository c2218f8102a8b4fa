"""Running a snippet in a fresh interpreter, for behaviour that is once per process.

Some torch warnings fire once per process (``TORCH_WARN_ONCE``).  A test of one
cannot trust the process it runs in, whatever ran before it there, so it runs the
snippet in a new process and reads back what the snippet reports as JSON.
The process inherits the environment (so ``PYTHONPATH``, ``sitecustomize`` and the
like apply to it too) but none of the parent's warning filters.

Where ``os.fork`` is safe to use (Linux), the new process is forked from a *zygote*: one interpreter
per session, started with the first snippet, that imports torch and then does nothing but fork a
worker per snippet.  A worker is therefore as fresh as a new interpreter that has just run
``import torch`` (no tensor made, no warning raised, no once-per-process flag set), and it costs a
fork instead of a torch import (about 1.5 s of CPU each on the 2-core runners).  Each worker ends
itself after :data:`WORKER_LIMIT` seconds, dies with the zygote (``PR_SET_PDEATHSIG``), and the
zygote dies when the session closes its stdin (however the session ends); :func:`run` kills a
worker that outlives its timeout.  Elsewhere (macOS, Windows) each snippet gets a new interpreter
of its own, as before: slower, the same reports.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARK = "@@spec-isolated@@"

PRELUDE = f"""
import json as _json, warnings as _warnings
_warnings.resetwarnings()
_warnings.simplefilter("default")
def report(value):
    print({MARK!r} + _json.dumps(value), flush=True)
"""

#: Seconds a forked worker may live, whatever its caller does (:func:`run`'s own timeout is usually shorter).
WORKER_LIMIT = 300

#: The zygote: import torch once, then fork one worker per request line ``{"code", "dir"}`` read from stdin.
#: A worker writes its stdout and stderr to ``dir/out`` and ``dir/err``; the zygote writes the worker's pid to
#: ``dir/pid`` and, once it has reaped it, its exit code to ``dir/rc``.  At EOF on stdin it kills every worker.
ZYGOTE = r"""
import json, os, select, signal, sys, traceback, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # fork() of a process with torch's helper thread (3.12+)
import torch  # noqa: F401 - the reason the zygote exists: each worker starts with torch imported

LIMIT = int(sys.argv[1])
PRELUDE = sys.argv[2]
ROOT = sys.argv[3]
workers = {}


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def die_with_zygote():
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def worker(code, folder):
    rc = 1
    try:
        die_with_zygote()
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(LIMIT)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, name in ((1, "out"), (2, "err")):
            target = os.open(os.path.join(folder, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        warnings.resetwarnings()
        try:
            exec(compile(PRELUDE + code, "<isolated snippet>", "exec"), {"__name__": "__main__"})
            rc = 0
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            traceback.print_exc()
            rc = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)


def reap():
    while workers:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        folder = workers.pop(pid, None)
        if folder is not None:
            write(os.path.join(folder, "rc"), str(os.waitstatus_to_exitcode(status)))


stdin = sys.stdin.buffer
pending = b""
while True:
    readable, _, _ = select.select([stdin], [], [], 0.05)
    reap()
    if not readable:
        continue
    chunk = os.read(stdin.fileno(), 1 << 16)
    if not chunk:
        break
    pending += chunk
    while b"\n" in pending:
        line, pending = pending.split(b"\n", 1)
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            worker(request["code"], request["dir"])
        workers[pid] = request["dir"]
        write(os.path.join(request["dir"], "pid"), str(pid))
for pid in list(workers):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
while workers:
    reap()
import shutil
shutil.rmtree(ROOT, ignore_errors=True)  # the session's folder, also when the session was killed outright
os._exit(0)  # no teardown of torch's modules: nothing is left to flush
"""


class IsolatedError(RuntimeError):
    """The snippet failed in its fresh process."""


PREFETCH_ATTR = "__spec_isolated__"


def prefetch(make_code):
    """Declare the snippet a test will run, so the plugin starts its process at collection.

    ``make_code(**params)`` gets the test's parameters (``device``, ``dtype`` as its name, ...)
    and returns exactly the code the test passes to :func:`run`.  The snippet then runs on the
    second core while the other tests run, instead of while this test waits.
    """

    def decorate(fn):
        setattr(fn, PREFETCH_ATTR, make_code)
        return fn

    return decorate


def forking() -> bool:
    """Whether snippets are forked from the zygote (Linux) rather than each started as a new interpreter."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and os.environ.get("SPEC_ISOLATED_SPAWN") != "1"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}


@dataclass
class _Spawned:
    """A snippet in an interpreter of its own."""

    proc: subprocess.Popen

    def wait(self, timeout: float) -> tuple[int, str, str]:
        try:
            stdout, stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            stdout, stderr = self.proc.communicate()
        return self.proc.returncode, stdout, stderr

    def discard(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


@dataclass
class _Forked:
    """A snippet in a worker forked from the zygote; its files are in ``folder``."""

    folder: Path

    def _read(self, name: str) -> str:
        try:
            return (self.folder / name).read_text(errors="replace")
        except OSError:
            return ""

    def _kill(self) -> None:
        pid = self._read("pid").strip()
        if pid:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def wait(self, timeout: float) -> tuple[int, str, str]:
        deadline = time.monotonic() + timeout
        note = ""
        while not (self.folder / "rc").exists():
            if _ZYGOTE.proc is None or _ZYGOTE.proc.poll() is not None:
                note = f"the zygote interpreter ended: {_ZYGOTE.tail()}"
                break
            if time.monotonic() > deadline:
                self._kill()
                note = f"killed after {timeout:.0f} s"
                end = time.monotonic() + 5
                while not (self.folder / "rc").exists() and time.monotonic() < end:
                    time.sleep(0.01)
                break
            time.sleep(0.005)
        rc_text = self._read("rc").strip()
        rc = int(rc_text) if rc_text.lstrip("-").isdigit() else -9
        return rc, self._read("out"), self._read("err") + (f"\n{note}" if note else "")

    def discard(self) -> None:
        self._kill()


class _Zygote:
    """The session's zygote interpreter (started on first use; one per process that uses it)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.root: Path | None = None
        self.count = 0
        self.owner = os.getpid()

    def tail(self) -> str:
        try:
            text = (self.root / "zygote.err").read_text(errors="replace") if self.root else ""
        except OSError:
            text = ""
        lines = [ln for ln in text.splitlines() if ln.strip()]
        return lines[-1] if lines else f"exit code {self.proc.returncode if self.proc else None}"

    def submit(self, code: str) -> _Forked:
        if self.owner != os.getpid():  # a forked copy of a process that had one: not ours
            self.__init__()
        if self.proc is None or self.proc.poll() is not None:
            self.root = Path(tempfile.mkdtemp(prefix="spec-isolated-"))
            err = open(self.root / "zygote.err", "w")  # noqa: SIM115 - the zygote's own stderr
            self.proc = subprocess.Popen(
                [sys.executable, "-c", ZYGOTE, str(WORKER_LIMIT), PRELUDE, str(self.root)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err, env=_env(),
            )
            err.close()
        self.count += 1
        folder = self.root / f"s{self.count}"
        folder.mkdir()
        try:
            self.proc.stdin.write((json.dumps({"code": code, "dir": str(folder)}) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the zygote ended: wait() says so
        return _Forked(folder)

    def close(self) -> None:
        if self.owner != os.getpid():
            self.__init__()
            return
        if self.proc is not None:
            try:
                self.proc.stdin.close()  # the zygote kills its workers and exits
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)  # it kills its workers and exits at once (os._exit)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        self.__init__()


_ZYGOTE = _Zygote()
#: Snippets started ahead of their test (see :func:`prefetch`), by their code.
_STARTED: dict[str, _Spawned | _Forked] = {}


def start(code: str) -> None:
    """Start ``code``'s process now (once); :func:`run` collects its report later."""
    code = textwrap.dedent(code)
    if code in _STARTED:
        return
    if forking():
        _STARTED[code] = _ZYGOTE.submit(code)
    else:
        _STARTED[code] = _Spawned(subprocess.Popen([sys.executable, "-c", PRELUDE + code], stdout=subprocess.PIPE,
                                                   stderr=subprocess.PIPE, text=True, env=_env()))


def run(code: str, *, timeout: float = 120) -> Any:
    """Run ``code`` in a fresh process; it calls ``report(value)`` once with a JSON-able value."""
    code = textwrap.dedent(code)
    start(code)
    rc, stdout, stderr = _STARTED.pop(code).wait(timeout)
    lines = [ln for ln in stdout.splitlines() if ln.startswith(MARK)]
    if rc != 0 or len(lines) != 1:
        raise IsolatedError(
            f"isolated snippet exited {rc} with {len(lines)} reports\n"
            f"--- stdout\n{stdout[-3000:]}\n--- stderr\n{stderr[-3000:]}"
        )
    return json.loads(lines[0][len(MARK) :])


def forget() -> None:
    """Drop what this process started without touching it (a forked child's copy belongs to its parent)."""
    _STARTED.clear()
    _ZYGOTE.__init__()


def discard_all() -> None:
    """End the snippets that were started and never collected (their tests did not run), and the zygote."""
    for job in _STARTED.values():
        job.discard()
    _STARTED.clear()
    _ZYGOTE.close()
