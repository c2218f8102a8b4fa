"""spec.isolated: a snippet's process is fresh, bounded in time, and torn down, forked or spawned alike."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spec import isolated

#: A once-per-process torch warning (TORCH_WARN_ONCE): the first backward(create_graph=True) of a process warns.
WARN_ONCE = """
import warnings, torch
a = torch.tensor(5.0, requires_grad=True)
counts = []
for _ in range(2):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (a * a).backward(create_graph=True)
    counts.append(sum("reference cycle" in str(w.message) for w in caught))
import sys
report({"counts": counts, "marker": getattr(sys, "_spec_marker", None)})
sys._spec_marker = "set by an earlier snippet"
"""

WAYS = ["fork", "spawn"]


@pytest.fixture(params=WAYS)
def way(request, monkeypatch):
    """Each test once through the zygote (where forking is possible) and once with a new interpreter per snippet."""
    monkeypatch.setenv("SPEC_ISOLATED_SPAWN", "1" if request.param == "spawn" else "0")
    if request.param == "fork" and not isolated.forking():
        pytest.skip("the zygote forks only on Linux")
    isolated.discard_all()
    yield request.param
    isolated.discard_all()


def test_the_mode_is_what_the_platform_allows(way):
    assert isolated.forking() is (way == "fork")


def test_once_per_process_state_is_fresh_in_every_snippet(way):
    """Two snippets, one after the other: each sees torch's once-per-process warning and none of the other's state."""
    first = isolated.run(WARN_ONCE)
    second = isolated.run(WARN_ONCE)  # the same code again: a new process
    assert first["counts"] == [1, 0], first
    assert second["counts"] == [1, 0], second
    assert first["marker"] is None and second["marker"] is None


def test_a_prefetched_snippet_reports_once(way):
    code = "report(sum(range(10)))"
    isolated.start(code)
    isolated.start(code)  # once
    assert isolated.run(code) == 45
    assert code not in isolated._STARTED


def test_warning_filters_are_not_inherited(way, monkeypatch):
    monkeypatch.setenv("PYTHONWARNINGS", "error")
    code = "import warnings\nwith warnings.catch_warnings(record=True) as w:\n    warnings.warn('x')\nreport(len(w))"
    assert isolated.run(code) == 1


def test_an_exception_is_an_isolated_error_with_the_traceback(way):
    with pytest.raises(isolated.IsolatedError, match=r"(?s)exited 1 with 0 reports.*ZeroDivisionError"):
        isolated.run("1 / 0")


def test_two_reports_or_none_are_an_error(way):
    with pytest.raises(isolated.IsolatedError, match="exited 0 with 2 reports"):
        isolated.run("report(1)\nreport(2)")
    with pytest.raises(isolated.IsolatedError, match="exited 0 with 0 reports"):
        isolated.run("x = 1")
    with pytest.raises(isolated.IsolatedError, match="exited 3 with 0 reports"):
        isolated.run("import sys\nsys.exit(3)")


def test_a_snippet_that_hangs_is_killed_at_its_timeout(way, tmp_path):
    pid_file = tmp_path / "pid"
    code = f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\nreport(1)"
    isolated.start(code)
    _wait_for(pid_file)  # the timeout below is the snippet's own time, not the process's start on a loaded machine
    started = time.monotonic()
    with pytest.raises(isolated.IsolatedError, match="exited -9 with 0 reports"):
        isolated.run(code, timeout=2)
    assert time.monotonic() - started < 20
    _assert_gone(int(pid_file.read_text()))


def test_discard_all_ends_started_snippets_and_the_zygote(way, tmp_path):
    """A snippet whose test never ran (deselected, or the session stopped) is killed at the session's end."""
    pid_file = tmp_path / "pid"
    code = f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)"
    isolated.start(code)
    _wait_for(pid_file)
    zygote = isolated._ZYGOTE.proc
    isolated.discard_all()
    assert not isolated._STARTED
    _assert_gone(int(pid_file.read_text()))
    if way == "fork":
        assert zygote is not None and zygote.wait(timeout=10) is not None
        assert isolated._ZYGOTE.proc is None


SESSION = """
import sys, time
from pathlib import Path
from spec import isolated
folder = Path(sys.argv[1])
isolated.start(f"import os, time\\nopen({str(folder / 'worker')!r}, 'w').write(str(os.getpid()))\\ntime.sleep(120)")
(folder / "root").write_text(str(isolated._ZYGOTE.root))
(folder / "zygote").write_text(str(isolated._ZYGOTE.proc.pid))
time.sleep(120)
"""


def test_the_zygote_kills_its_workers_when_the_session_dies(tmp_path, monkeypatch):
    """A session killed outright (SIGKILL, no teardown) closes the zygote's stdin: the zygote and its workers end."""
    monkeypatch.setenv("SPEC_ISOLATED_SPAWN", "0")
    if not isolated.forking():
        pytest.skip("the zygote forks only on Linux")
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    session = subprocess.Popen([sys.executable, "-c", SESSION, str(tmp_path)], env=env)
    try:
        _wait_for(tmp_path / "worker")
        _wait_for(tmp_path / "zygote")
    finally:
        session.kill()
        session.wait()
    _assert_gone(int((tmp_path / "zygote").read_text()))
    _assert_gone(int((tmp_path / "worker").read_text()))
    assert not Path((tmp_path / "root").read_text()).exists(), "the zygote left its folder behind"


def _wait_for(path, within: float = 120) -> None:
    deadline = time.monotonic() + within
    while not (path.exists() and path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), f"the snippet did not start within {within:.0f} s"


def _assert_gone(pid: int, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:  # a zombie of ours counts as gone once reaped
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        if _is_zombie(pid):
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still runs {within:.0f} s after it should have ended")


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False
