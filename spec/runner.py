"""``autograd-spec run [pytest options]``: every claim against the torch of *this* environment.

Runs the claims that ship inside the package (``spec/suite``) with pytest, from any working
directory, without a source checkout and without reading the user's pytest configuration: the
options are the suite's own (``--claim``, ``--device``, ``--dtype``, ``--mode``, ``--results``,
``--waivers``, ``--junitxml`` and any pytest option).  The claim report is printed at the end, and the results
JSON is written to ``autograd-spec-results.json`` unless ``--results`` says where.  The exit code
is the claim run's (see :mod:`spec.plugin`).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

DEFAULT_RESULTS = "autograd-spec-results.json"


def pytest_args(argv: list[str]) -> list[str]:
    """The pytest command line of a claim run."""
    suite = Path(__file__).resolve().parent / "suite"
    args = [
        str(suite),
        "-c",
        str(suite / "autograd-spec.ini"),
        "--rootdir",
        str(suite.parent.parent),
        "-p",
        "spec.plugin",
        "-W",
        "error::UserWarning",
    ]
    if importlib.util.find_spec("pytest_benchmark") is not None:
        args += ["-p", "no:benchmark"]  # it would create .benchmarks/ in the user's directory
    if importlib.util.find_spec("randomly") is not None or importlib.util.find_spec("pytest_randomly") is not None:
        args += ["-p", "no:randomly"]
    if not any(a == "--results" or a.startswith("--results=") for a in argv):
        args += ["--results", DEFAULT_RESULTS]
    return args + list(argv)


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("\npytest's own help, with the suite's options (group 'autograd-spec'): autograd-spec run --help-pytest")
        return 0
    if argv and argv[0] == "--help-pytest":
        argv = ["--help", *argv[1:]]
    try:
        from spec.torch_import import import_torch

        import_torch()
    except ImportError:
        print(
            f"autograd-spec run: error: torch is not installed for {sys.executable}; install the torch you want "
            "to check into this environment (pip install torch)",
            file=sys.stderr,
        )
        return 4
    import os
    import tempfile

    import pytest

    with tempfile.TemporaryDirectory(prefix="autograd-spec-") as scratch:
        # hypothesis keeps its directory in the working directory unless told otherwise
        os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(scratch, "hypothesis"))
        return int(pytest.main(pytest_args(argv)))
