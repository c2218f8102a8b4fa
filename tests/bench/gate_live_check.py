"""The instruction gate, live: a budgeted subset of cases counted under callgrind now, compared with the committed
counts of the same torch build at the 5 % threshold (issue 20). Run by ``tox -e bench-gate``:

    python -m pytest tests/bench/gate_live_check.py -p no:randomly -rs

(The file name does not match ``test_*.py``, so ``pytest tests/bench`` (``tox -e bench``) does not collect
it; named on the command line it runs.) Where the torch build, the Python, the CPU or valgrind differ from
the committed record, the counts are not comparable: the test is skipped with the difference as its
reason, it compares nothing and it does not pass.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from spec.bench import instructions as gate
from tests.bench import instructions as counting

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "bench" / "instructions" / "baseline.json"


def _committed() -> dict:
    return json.loads(COMMITTED.read_text())["autograd_spec"]["instructions"]


def test_subset_counts_match_the_committed_counts():
    import platform

    import torch

    if shutil.which("valgrind") is None:
        pytest.skip("not compared: valgrind is not on PATH")
    old = _committed()
    here = {"torch": torch.__version__, "python": platform.python_version(), "cpu": counting.cpu_name()}
    differs = [f"{k}: committed {old[k]}, here {here[k]}" for k in here if here[k] != old[k]]
    if differs:
        pytest.skip("not compared (the counts of another build or machine are not comparable): " + "; ".join(differs))
    new = counting.count(list(counting.SUBSET), timeout=600)
    fingerprint = gate.differences(old, new)
    if fingerprint:
        pytest.skip("not compared: " + "; ".join(fingerprint))
    old_subset = {**old, "cases": {c: old["cases"][c] for c in counting.SUBSET}}
    result = gate.compare_counts(old_subset, new, gate.DEFAULT_INSTR_THRESHOLD)
    print(gate.render_counts(result))
    assert len(result["rows"]) == len(counting.SUBSET), result["only_old"]
    assert not result["slower"], gate.render_counts(result)
    # the same torch: within a few noise floors both ways, not merely below +5 %
    assert result["max_change"] <= max(5 * gate.NOISE_FLOOR, 0.005), gate.render_counts(result)
