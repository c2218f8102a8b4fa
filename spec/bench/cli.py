"""``python -m spec bench-report``: the arguments, and what each way of calling it does."""

from __future__ import annotations

import math
from pathlib import Path

from spec.bench import instructions as instr
from spec.bench.load import load, machine_differences
from spec.bench.render import REPORT_NAME, render, render_compare, render_markdown
from spec.bench.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RUN_NOISE,
    DEFAULT_RUN_SHIFT,
    DEFAULT_THRESHOLD,
    MIN_RATIOS_FOR_RUN_NOISE,
    compare,
)
from spec.errors import CommandError

DEFAULT_OUT = "results/bench/report"


def configure(parser) -> None:
    parser.add_argument("results", nargs="*", metavar="RESULTS.json", help="pytest-benchmark JSON from tests/bench")
    parser.add_argument(
        "--compare", nargs=2, metavar=("OLD", "NEW"), help="compare two runs (e.g. two torch versions) instead"
    )
    parser.add_argument(
        "--threshold",
        default=str(DEFAULT_THRESHOLD),
        help="with --compare: a ratio is 'slower' when its whole confidence interval lies above 1 + this fraction "
        "(0.1 or 10%%; default 10%%)",
    )
    parser.add_argument(
        "--confidence",
        default=str(DEFAULT_CONFIDENCE),
        help="with --compare: the chance that two runs of one torch raise no alarm (default 0.99); each ratio and each "
        "method is judged at the Bonferroni share of it",
    )
    parser.add_argument(
        "--out",
        default=None,
        help=f"render: the folder for {REPORT_NAME} and the PNGs (default {DEFAULT_OUT}); "
        "compare: also write the comparison as Markdown to this file",
    )
    parser.add_argument(
        "--run-noise",
        default="auto",
        help="with --compare: the run-to-run noise of a ratio (log scale, e.g. 0.1); default auto: estimated from "
        f"the two runs, or {DEFAULT_RUN_NOISE:g} below {MIN_RATIOS_FOR_RUN_NOISE} ratios",
    )
    parser.add_argument(
        "--run-shift",
        default=str(DEFAULT_RUN_SHIFT),
        help="with --compare: the spread of a shift of all ratios of a run together (log scale), which widens the "
        f"pooled verdicts (default {DEFAULT_RUN_SHIFT:g}, measured)",
    )
    parser.add_argument(
        "--any-machine",
        action="store_true",
        help="with --compare: compare runs made on different machines (CPU, thread count, sizes, clock or timing "
        "plan differ); "
        "without it that is an error, because the change would be the machine's, not torch's",
    )
    parser.add_argument(
        "--instr-threshold",
        default=str(instr.DEFAULT_INSTR_THRESHOLD),
        help="with --compare, where both runs have callgrind instruction counts: a case is 'slower' when its "
        "method's instructions per call grew by more than this (0.05 or 5%%; default "
        f"{instr.DEFAULT_INSTR_THRESHOLD * 100:g}%%; the largest change measured between two runs of one torch: "
        f"{instr.NOISE_FLOOR * 100:g}%%)",
    )
    parser.add_argument("--no-plots", action="store_true", help="render the Markdown only")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"render: write nothing; exit 1 when OUT/{REPORT_NAME} differs from a fresh rendering",
    )


def run(args) -> int:
    if args.compare:
        if args.results:
            raise CommandError("give either RESULTS.json files to render or --compare OLD NEW, not both")
        if args.check:
            raise CommandError("--check checks a rendered report; it does not go with --compare")
        threshold = parse_threshold(args.threshold)
        confidence = parse_confidence(args.confidence)
        old, new = (load(p) for p in args.compare)
        counts_old, counts_new = instr.record_of(old), instr.record_of(new)
        counts_differ = instr.differences(counts_old, counts_new) if counts_old and counts_new else []
        if counts_differ and not args.any_machine:
            raise CommandError("OLD's and NEW's instruction counts were made on different machines or setups ("
                               + "; ".join(counts_differ) + "): not comparable (pass --any-machine to compare anyway)")
        text, failed = "", False
        if old["rows"] and new["rows"]:
            differs = machine_differences(old, new)
            if differs and not args.any_machine:
                raise CommandError("OLD and NEW ran on different machines (" + "; ".join(differs) + "): their "
                                   "ratios are not comparable (pass --any-machine to compare them anyway)")
            run_noise = None if args.run_noise == "auto" else parse_spread(args.run_noise, "--run-noise")
            result = compare(old, new, threshold, confidence, run_noise, parse_spread(args.run_shift, "--run-shift"))
            result["machine_differences"] = differs
            text = render_compare(result, old, new, threshold, confidence)
            failed = bool(result["regressions"] or result["pooled_regressions"])
        else:
            text = (f"# Benchmark comparison: {old['label']} -> {new['label']}\n\nNo wall-time comparison: "
                    f"{'OLD' if not old['rows'] else 'NEW'} has no timed cases (an instruction-count document).\n")
        if counts_old and counts_new:
            counted = instr.compare_counts(counts_old, counts_new, parse_threshold(args.instr_threshold))
            text += "\n" + instr.render_counts(counted)
            failed = failed or bool(counted["slower"])
        else:
            missing = " and ".join(n for n, c in (("OLD", counts_old), ("NEW", counts_new)) if not c)
            text += (f"\nNo instruction counts in {missing} (python -m tests.bench.instructions --into ...): the "
                     "gate is the wall time alone.\n")
        print(text, end="")
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(text)
        return 1 if failed else 0
    if not args.results:
        raise CommandError("nothing to do: give RESULTS.json files to render, or --compare OLD NEW")
    runs = [load(p) for p in args.results]
    out = Path(args.out or DEFAULT_OUT)
    if args.check:
        fresh = render_markdown(runs, plots=not args.no_plots)
        path = out / REPORT_NAME
        if not path.is_file() or path.read_text(encoding="utf-8") != fresh:
            why = "missing" if not path.is_file() else "differs"
            print(f"the benchmark report {path} is stale ({why}); regenerate it with: python -m spec bench-report "
                  f"{' '.join(args.results)} --out {out}")
            return 1
        print(f"the benchmark report {path} is up to date")
        return 0
    path = render(runs, out, plots=not args.no_plots)
    print(f"wrote {path}")
    return 0


def parse_fraction(text: str, flag: str, example: str) -> float:
    """A fraction written as a number or a percent (``0.1`` or ``10%``); ``example`` is shown when it is neither."""
    raw = str(text).strip()
    try:
        return float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise CommandError(f"{flag}: not a number: {text!r} (use {example})") from None


def parse_threshold(text: str) -> float:
    value = parse_fraction(text, "--threshold", "0.1 or 10%")
    if not (value > 0 and math.isfinite(value)):
        raise CommandError(f"--threshold must be positive, not {text!r}")
    return value


def parse_confidence(text: str) -> float:
    value = parse_fraction(text, "--confidence", "0.99 or 99%")
    if not 0.5 <= value < 1:
        raise CommandError(f"--confidence must be at least 0.5 and below 1, not {text!r}")
    return value


def parse_spread(text: str, flag: str) -> float:
    """A spread on the log scale for ``--run-noise`` or ``--run-shift``: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise CommandError(f"{flag}: not a number: {text!r} (use a spread like 0.1)") from None
    if not 0 <= value < 1:
        raise CommandError(f"{flag}: {text} is not in [0, 1)")
    return value
