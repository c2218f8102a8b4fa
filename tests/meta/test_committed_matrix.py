"""The committed matrix rendering (docs/matrix) matches its committed results."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from spec import matrix
from spec.results import load_many

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "matrix" / "results"
TITLE = "autograd-spec: claims across torch versions and devices"


@pytest.fixture(scope="module")
def rendered():
    if not RESULTS.is_dir():
        pytest.skip("docs/matrix/results is not committed yet")
    return matrix.build(load_many([RESULTS]))


def test_markdown_is_current(rendered):
    committed = (ROOT / "docs" / "matrix" / "matrix.md").read_text(encoding="utf-8")
    assert committed == matrix.render_markdown(rendered, TITLE), (
        "docs/matrix/matrix.md is stale: run python -m spec matrix docs/matrix/results -o docs/matrix/matrix.md"
    )


def test_html_is_current(rendered):
    committed = (ROOT / "docs" / "matrix" / "matrix.html").read_text(encoding="utf-8")
    assert committed == matrix.render_html(rendered, TITLE), (
        "docs/matrix/matrix.html is stale: run python -m spec matrix docs/matrix/results -o docs/matrix/matrix.html"
    )


def test_every_recorded_version_is_in_the_committed_matrix(rendered):
    from spec.versions import RECORDED_VERSIONS

    releases = {c.release for c in rendered.columns}
    assert set(RECORDED_VERSIONS) <= releases, f"missing from docs/matrix/results: {sorted(set(RECORDED_VERSIONS) - releases)}"


def test_every_claim_holds_on_cpu_in_the_committed_matrix(rendered):
    failing = sorted({cid for (cid, _col, dev), cell in rendered.cells.items() if dev == "cpu" and cell.state == "fail"})
    assert not failing, f"claims failing on cpu in docs/matrix/results: {failing}"


def test_diff_of_oldest_and_newest_lists_exactly_the_recorded_changes():
    """`python -m spec diff` on the 2.0.1 and 2.15.0 results names every recorded change and nothing else."""
    from spec import diff
    from spec.claims import registry
    from spec.versions import RECORDED_VERSIONS

    old_path, new_path = RESULTS / "py311-torch20.json", RESULTS / "py311-torch215.json"
    if not (old_path.exists() and new_path.exists()):
        pytest.skip("docs/matrix/results lacks the 2.0.1 or 2.15.0 run")
    report = diff.compare(diff.merge(str(old_path)), diff.merge(str(new_path)))
    assert report["regressions"] == []
    oldest, newest = RECORDED_VERSIONS[0], RECORDED_VERSIONS[-1]
    recorded = {}
    for claim in registry().values():
        for change in claim.changes:
            branches = {spec for v in (oldest, newest) for spec in change.values if SpecifierSet(spec).contains(v)}
            if len(branches) == 2:
                recorded.setdefault(claim.id, set()).add(change.key)
    listed = {c["claim"]: {e["key"] for e in c["expectations"]} for c in report["changed_claims"]}
    assert listed == recorded, "the diff of 2.0.1 and 2.15.0 must list exactly the recorded behaviour changes"
