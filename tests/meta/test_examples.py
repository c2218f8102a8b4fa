"""Executed documentation: every Python example in README.md and docs/**/*.md runs in the tests.

Rules for examples (Sybil's Markdown syntax):

- Every ```python block of a file runs, in order, in one namespace per file; a block with ``>>>``
  prompts is a doctest and its output must match.
- Each file's namespace starts with ``torch`` and the suite's public API (``claim``, ``dtypes``,
  ``by_version``) imported, as in a claim module; anything else a block uses it must import or define.
- An illustrative fragment that cannot run on its own is preceded by ``<!-- skip: next -->``.
  Hidden setup goes in ``<!-- invisible-code-block: python ... -->``.
- Blocks in other languages (```bash, ```text, ```json) are not run.
- docs/book/ is not collected: its code blocks are the claim tests themselves, embedded verbatim
  (tests/meta/test_docs.py checks that), which the claim suite runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spec.claims import project_root

ROOT = project_root()
EXCLUDED = ("docs/book/",)


def documents() -> list[Path]:
    found = [ROOT / "README.md"] if (ROOT / "README.md").is_file() else []
    found += sorted(p for p in (ROOT / "docs").rglob("*.md") if p.is_file())
    return [p for p in found if not p.relative_to(ROOT).as_posix().startswith(EXCLUDED)]


def setup_namespace(namespace: dict) -> None:
    import torch

    from spec import by_version, claim, dtypes

    namespace.update(torch=torch, claim=claim, dtypes=dtypes, by_version=by_version)


@pytest.mark.parametrize("path", documents(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_examples_run(path: Path, monkeypatch):
    sybil = pytest.importorskip("sybil", reason="executed docs need sybil (pip install sybil)")
    from sybil.parsers.markdown import ClearNamespaceParser, PythonCodeBlockParser, SkipParser

    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))
    document = sybil.Sybil(parsers=[PythonCodeBlockParser(), SkipParser(), ClearNamespaceParser()]).parse(path)
    setup_namespace(document.namespace)
    from sybil.example import SybilFailure

    where = path.relative_to(ROOT).as_posix()
    for example in document.examples():
        problem = None
        try:
            failure = example.evaluate()
        except SybilFailure as exc:
            problem = f"the example's output differs:\n{exc.result}"
        except Exception as exc:
            problem = f"the example raised {type(exc).__name__}: {exc}"
        else:
            if failure:
                problem = f"the example's output differs:\n{failure}"
        if problem:
            pytest.fail(f"{where}, line {example.line}: {problem}", pytrace=False)


def test_documents_are_found():
    names = [p.relative_to(ROOT).as_posix() for p in documents()]
    assert "README.md" in names
    assert not [n for n in names if n.startswith("docs/book/")]


def test_a_broken_example_fails(tmp_path):
    """The harness itself: a failing block and a wrong doctest output are reported, a skipped block is not run."""
    sybil = pytest.importorskip("sybil", reason="executed docs need sybil (pip install sybil)")
    from sybil.example import SybilFailure
    from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

    page = tmp_path / "page.md"
    page.write_text(
        "```python\nx = by_version\n```\n\n<!-- skip: next -->\n\n```python\nraise RuntimeError\n```\n\n"
        "```python\n>>> 1 + 1\n3\n```\n\n```python\nundefined_name\n```\n",
        encoding="utf-8",
    )
    document = sybil.Sybil(parsers=[PythonCodeBlockParser(), SkipParser()]).parse(page)
    setup_namespace(document.namespace)
    outcomes = []
    for example in document.examples():
        try:
            outcomes.append("failed" if example.evaluate() else "ok")
        except SybilFailure:
            outcomes.append("failed")
        except NameError:
            outcomes.append("raised")
    assert outcomes == ["ok", "ok", "ok", "failed", "raised"]  # the skip directive is an example too
