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


def run(code: str, *, timeout: float = 120) -> Any:
    """Run ``code`` in a new interpreter; it calls ``report(value)`` once with a JSON-able value."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    proc = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
    if proc.returncode != 0 or len(lines) != 1:
        raise IsolatedError(
            f"isolated snippet exited {proc.returncode} with {len(lines)} reports\n"
            f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
        )
    return json.loads(lines[0][len(MARK) :])
