"""``python -m spec merge RESULTS_DIR -o OUT_DIR``: merge per-cell results and render the matrix and the claim book.

When one machine is not enough, CI runs one job per (torch, Python, runner) cell and uploads each
results JSON as an artifact; the final job downloads them all into one folder and runs this command.
It reads every ``*.json`` under RESULTS_DIR (subfolders too: one per artifact), validates each
against the results schema, refuses partial runs (``--claim``, ``-k`` ...) unless
``--allow-partial`` and two files describing the same run, and writes, from one aggregation:

- ``OUT_DIR/matrix.md`` and ``OUT_DIR/matrix.html``: the claims x versions x devices x modes matrix;
- ``OUT_DIR/book/``: the claim book (as ``python -m spec docs``).

Run on the committed ``docs/matrix/results`` it rebuilds ``docs/matrix/matrix.md``, ``.html`` and
``docs/book`` byte for byte.
"""

from __future__ import annotations

from pathlib import Path

from spec.errors import CommandError
from spec.results import load, results_files


def configure(parser) -> None:
    parser.add_argument("results", metavar="RESULTS_DIR", help="folder of results files (*.json, searched in subfolders too)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="where matrix.md, matrix.html and book/ go")
    parser.add_argument("--allow-partial", action="store_true", help="merge partial runs (--claim, -k ...) too")
    parser.add_argument("--title", default=None, help="the matrix's title")


def merge(results_dir: str | Path, *, allow_partial: bool = False, title: str | None = None) -> dict[str, str]:
    """Relative path under OUT_DIR -> content, for the matrix and every file of the book."""
    from spec import book as book_mod
    from spec import matrix
    from spec.aggregate import Aggregate, load_mutants, runs_of
    from spec.results import is_partial

    src = Path(results_dir)
    if not src.is_dir():
        raise CommandError(f"{src}: no such folder" if not src.exists() else f"{src}: is not a folder")
    files = results_files(src, recursive=True)
    if not files:
        raise CommandError(f"{src}: holds no results files (*.json)")
    docs = [load(f) for f in files]
    if not allow_partial:
        # A provider library's run (labelled, --provider) selects the operator section by design: it is merged as
        # its own column, blank for the claims it did not select.
        partial = [f for f, d in zip(files, docs)
                   if is_partial(d) and not (d.get("label") and (d.get("selection") or {}).get("providers"))]
        if partial:
            raise CommandError(
                f"{partial[0]} is a partial run (--claim, --dtype, -k ...); the matrix merges full runs "
                f"({len(partial)} partial file(s); --allow-partial merges them anyway)"
            )
    agg = Aggregate(runs_of(docs))
    title = title or matrix.TITLE
    out = {"matrix.md": matrix.render_markdown(agg, title), "matrix.html": matrix.render_html(agg, title)}
    book = book_mod.render(book_mod.book_model(agg, book_mod.load_explanations(), load_mutants()))
    out.update({f"book/{name}": text for name, text in book.items()})
    return out


def run(args) -> int:
    from spec import book as book_mod

    target = Path(args.output)
    if target.exists() and not target.is_dir():
        raise CommandError(f"{target}: is not a folder")
    files = merge(args.results, allow_partial=args.allow_partial, title=args.title)
    target.mkdir(parents=True, exist_ok=True)
    for name in ("matrix.md", "matrix.html"):
        (target / name).write_text(files[name], encoding="utf-8")
    book = {name.removeprefix("book/"): text for name, text in files.items() if name.startswith("book/")}
    book_mod.write_book(book, target / "book")
    n = len(results_files(Path(args.results), recursive=True))
    print(f"merged {n} results files into {target}: matrix.md, matrix.html, book/ ({len(book)} files)")
    return 0
