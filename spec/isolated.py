"""Running a snippet in a fresh interpreter, for behaviour that is once per process.

Some torch warnings fire once per process (``TORCH_WARN_ONCE``).  A test of one
cannot trust the process it runs in, whatever ran before it there, so it runs the
snippet in a new interpreter and reads back what the snippet reports as JSON.
The child inherits the environment (so ``PYTHONPATH``, ``sitecustomize`` and the
like apply to it too) but none of the parent's warning filters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from typing import Any

MARK = "@@spec-isolated@@"

PRELUDE = f"""
import json as _json, warnings as _warnings
_warnings.resetwarnings()
_warnings.simplefilter("default")
def report(value):
    print({MARK!r} + _json.dumps(value), flush=True)
"""


class IsolatedError(RuntimeError):
    """The snippet failed in the child interpreter."""


#: Children started ahead of their test (see :func:`prefetch`), by their code.
_STARTED: dict[str, subprocess.Popen] = {}
PREFETCH_ATTR = "__spec_isolated__"


def prefetch(make_code):
    """Declare the snippet a test will run, so the plugin starts its interpreter at collection.

    ``make_code(**params)`` gets the test's parameters (``device``, ``dtype`` as its name, ...)
    and returns exactly the code the test passes to :func:`run`.  The child then imports torch on
    the second core while the other tests run, instead of while this test waits.
    """

    def decorate(fn):
        setattr(fn, PREFETCH_ATTR, make_code)
        return fn

    return decorate


def start(code: str) -> None:
    """Start ``code``'s interpreter now (once); :func:`run` collects its report later."""
    code = textwrap.dedent(code)
    if code in _STARTED:
        return
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    _STARTED[code] = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def run(code: str, *, timeout: float = 120) -> Any:
    """Run ``code`` in a new interpreter; it calls ``report(value)`` once with a JSON-able value."""
    code = textwrap.dedent(code)
    start(code)
    child = _STARTED.pop(code)
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        stdout, stderr = child.communicate()
    lines = [ln for ln in stdout.splitlines() if ln.startswith(MARK)]
    if child.returncode != 0 or len(lines) != 1:
        raise IsolatedError(
            f"isolated snippet exited {child.returncode} with {len(lines)} reports\n"
            f"--- stdout\n{stdout[-3000:]}\n--- stderr\n{stderr[-3000:]}"
        )
    return json.loads(lines[0][len(MARK) :])


def discard_all() -> None:
    """End children that were started and never collected (their tests did not run)."""
    for child in _STARTED.values():
        if child.poll() is None:
            child.kill()
        child.communicate()
    _STARTED.clear()
