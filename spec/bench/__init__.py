"""``python -m spec bench-report``: render the benchmark JSON; compare two runs with their noise; check staleness.

Render (Markdown table + PNG plots, one section per input file, i.e. per torch version):

    python -m spec bench-report results/bench/bench-torch2.15.0.json [MORE.json ...] --out results/bench/report

Check (write nothing; exit 1 when ``OUT/report.md`` differs from a fresh rendering, like the claim book):

    python -m spec bench-report docs/bench/bench-torch2.15.0.json --out docs/bench --check

Compare (exit 1 when a ratio, a method's ratios pooled, or all ratios pooled are *measurably* slower
by more than the threshold, or a method that was timed in OLD now disagrees with the float64
reference; exit 2 when the runs come from different machines):

    python -m spec bench-report --compare OLD.json NEW.json [--threshold 10%] [--confidence 0.99]
        [--run-noise auto] [--run-shift 0.067] [--any-machine] [--out compare.md]

The input is what ``pytest tests/bench --benchmark-json PATH`` writes. Every figure is a
ratio: method time / plain forward time measured in the same rounds. This package reads
everything it shows from the JSON (workload and method descriptions, sizes, orders, n/a
reasons: the ``autograd_spec`` section, schema 2); it never imports the benchmarks or torch.

The comparison exits 1 when a ratio, a method or the whole run is "slower", or a method timed in
OLD now fails its correctness check; :mod:`spec.bench.stats` says how it decides, and
``tests/meta/test_bench_report.py`` proves both sides on synthetic runs with and without
run-to-run noise and on rounds resampled from the committed run.

Where both runs carry callgrind instruction counts (``autograd_spec.instructions``, from
``python -m tests.bench.instructions``), ``--compare`` also judges them at ``--instr-threshold`` (default 5 %;
:mod:`spec.bench.instructions`), and exits 1 on a case whose instructions per call grew beyond it.

The modules: :mod:`spec.bench.cli` (the arguments, and what each way of calling does),
:mod:`spec.bench.instructions` (the instruction-count gate), :mod:`spec.bench.extras` (the report's sections on
the counts and on the D = 50 Laplacian experiment),
:mod:`spec.bench.load` (a JSON into a run; whether two runs compare), :mod:`spec.bench.stats` (the
comparison), :mod:`spec.bench.render` (the report and the comparison as Markdown, through
``spec/templates/bench-*.md.j2``) and :mod:`spec.bench.plots` (the report's PNGs).
"""

from spec.bench.cli import configure, run

__all__ = ["configure", "run"]
