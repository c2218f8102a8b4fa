"""The committed renderings (docs/matrix, docs/book) match their committed results, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec import matrix
from spec.results import load_many

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "matrix" / "results"
BOOK = ROOT / "docs" / "book"


@pytest.fixture(scope="module")
def rendered():
    if not RESULTS.is_dir() or not sorted(RESULTS.glob("*.json")):
        pytest.skip("docs/matrix/results is not committed yet")
    return matrix.build(load_many([RESULTS]))


def test_markdown_is_current(rendered):
    committed = (ROOT / "docs" / "matrix" / "matrix.md").read_text(encoding="utf-8")
    assert committed == matrix.render_markdown(rendered), (
        "docs/matrix/matrix.md is stale: run python -m spec matrix docs/matrix/results -o docs/matrix/matrix.md"
    )


def test_html_is_current(rendered):
    committed = (ROOT / "docs" / "matrix" / "matrix.html").read_text(encoding="utf-8")
    assert committed == matrix.render_html(rendered), (
        "docs/matrix/matrix.html is stale: run python -m spec matrix docs/matrix/results -o docs/matrix/matrix.html"
    )


def test_merge_rebuilds_the_committed_matrix_and_book_byte_for_byte(rendered, tmp_path):
    """`spec merge` on the committed results (as CI merges its artifacts) gives the committed files."""
    from spec.__main__ import main

    out = tmp_path / "site"
    assert main(["merge", str(RESULTS), "-o", str(out)]) == 0
    for name in ("matrix.md", "matrix.html"):
        assert (out / name).read_bytes() == (ROOT / "docs" / "matrix" / name).read_bytes(), f"docs/matrix/{name} differs"
    made = sorted(p.relative_to(out / "book").as_posix() for p in (out / "book").rglob("*") if p.is_file())
    committed = sorted(p.relative_to(BOOK).as_posix() for p in BOOK.rglob("*") if p.is_file())
    assert made == committed, "docs/book has other files than spec merge writes: python -m spec docs docs/matrix/results -o docs/book"
    stale = [name for name in made if (out / "book" / name).read_bytes() != (BOOK / name).read_bytes()]
    assert not stale, f"docs/book differs from spec merge's book: {stale}"


def test_every_recorded_version_is_in_the_committed_matrix(rendered):
    from spec.versions import RECORDED_VERSIONS

    releases = {r.release for r in rendered.runs}
    assert set(RECORDED_VERSIONS) <= releases, f"missing from docs/matrix/results: {sorted(set(RECORDED_VERSIONS) - releases)}"


def test_every_claim_holds_on_cpu_in_the_committed_matrix(rendered):
    failing = sorted({
        cid
        for cid in rendered.in_results
        for run in rendered.runs
        for mode in run.modes
        if rendered.cell(cid, run, "cpu", mode).status == "fail"
    })
    assert not failing, f"claims failing on cpu in docs/matrix/results: {failing}"


def test_diff_of_oldest_and_newest_lists_exactly_the_recorded_changes():
    """`python -m spec diff` on the 2.0.1 and 2.15.0 results names every recorded change between them and nothing else."""
    from spec import diff
    from spec.claims import registry
    from spec.versions import RECORDED_VERSIONS

    old_path, new_path = RESULTS / "py311-torch20.json", RESULTS / "py311-torch215.json"
    if not (old_path.exists() and new_path.exists()):
        pytest.skip("docs/matrix/results lacks the 2.0.1 or 2.15.0 run")
    old, new = diff.load_side(str(old_path), "OLD"), diff.load_side(str(new_path), "NEW")
    report = diff.compare(old, new)
    assert report["regressions"] == []
    oldest, newest = RECORDED_VERSIONS[0], RECORDED_VERSIONS[-1]
    in_results = {cid for d in old.docs + new.docs for cid in d["claims"]}
    recorded = {}
    for claim in registry().values():
        if claim.id not in in_results:
            continue
        for change in claim.changes:
            if change.changed_between(oldest, newest):
                recorded.setdefault(claim.id, set()).add(change.key)
    listed = {c["claim"]: {e["key"] for e in c["expectations"]} for c in report["changed_claims"] if c["expectations"]}
    assert listed == recorded, "the diff of 2.0.1 and 2.15.0 must list exactly the recorded behaviour changes"
