"""Command line: ``python -m spec COMMAND``.

Commands:
  run           run every claim against this environment's torch (any pytest option; see run --help)
  list          print every claim (ID, section, statement); --format json
  show          one claim: statement, section, sources, tests (file:line), explanation, mutants, changes, status
  matrix        render claims x torch versions x devices from results files
  diff          compare two results files or folders; exit 1 when a claim that held fails
  merge         merge per-cell results (CI artifacts) and render the matrix and the claim book
  docs          generate the claim book (Markdown and static HTML)
  bench-report  turn pytest-benchmark JSON into a Markdown report and plots; compare two runs
  scan          the claims that touch your code, with the file:line where it calls what they check
  repro         one claim as a standalone Python script (torch only) for an upstream bug report
  sources       the sources map: per PyTorch documentation page, its statements enforced, waived and open

Every command reports bad input in one line on stderr and exits non-zero (2 for usage).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from spec.errors import CommandError

#: command -> (module, help). Each module provides ``configure(parser)`` and ``run(args) -> int``.
COMMANDS = {
    "list": ("spec.cli_list", "print every claim: ID, section, statement"),
    "show": ("spec.cli_show", "every part of one claim: statement, sources, tests, explanation, mutants, changes, status"),
    "matrix": ("spec.matrix", "render the claims x torch versions x devices matrix (Markdown or HTML)"),
    "diff": ("spec.diff", "compare two runs; exit 1 when a claim that held in OLD fails in NEW"),
    "docs": ("spec.book", "generate the claim book from the claims and results"),
    "merge": ("spec.merge", "merge per-cell results (CI artifacts) into the matrix and the claim book"),
    "bench-report": ("spec.bench", "render benchmark results; compare two torch versions"),
    "scan": ("spec.scan", "the claims that touch your code: a static scan of files, folders or a package"),
    "repro": ("spec.repro", "print one claim as a standalone Python script (torch only) for an upstream bug report"),
    "sources": ("spec.sources", "the documented statements of PyTorch per page: enforced by claims, waived, open"),
}


def _prog() -> str:
    """How the user called us: ``autograd-spec`` (the installed script) or ``python -m spec``."""
    import os

    return "autograd-spec" if os.path.basename(sys.argv[0] or "") == "autograd-spec" else "python -m spec"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=_prog(), description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("run", help="run every claim against this environment's torch (pytest options pass through)", add_help=False)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).configure(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    from spec.claims import ClaimError
    from spec.results import ResultsError

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "run":
        from spec.runner import main as run_main

        return run_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except BrokenPipeError:  # `| head`
        return 0
    except (CommandError, ResultsError, ClaimError, OSError) as exc:
        code = getattr(exc, "code", 2)
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        print(f"{_prog()} {args.command}: error: {text}", file=sys.stderr)
        return code if isinstance(code, int) else 2


if __name__ == "__main__":
    sys.exit(main())
