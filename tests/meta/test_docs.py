"""The claim book (``python -m spec docs``) and the explanations it shows.

The explanation checks run everywhere (a new claim without an explanation fails here);
the rendering checks need jinja2 and skip without it.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from spec import claims as claims_module
from spec import docs
from spec.claims import SECTION_NAMES, Change, Claim, project_root, registry
from spec.results import SCHEMA, SCHEMA_VERSION

ROOT = project_root()
BOOK = ROOT / "docs" / "book"
MATRIX_RESULTS = ROOT / "docs" / "matrix" / "results"


# --------------------------------------------------------------------------- synthetic results


def results_doc(release: str, rows: list[dict], *, build: str = "cpu", cuda_present: bool = False, label=None) -> dict:
    """A minimal valid results document for torch ``release``."""
    claims = {r["claim"]: {"statement": None, "section": None} for r in rows}
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "suite_version": "0.1.0",
        "created": "2026-01-02T03:04:05+00:00",
        "label": label,
        "torch": {"version": f"{release}+{build}", "release": release, "build": build, "cuda": None, "git": None, "recorded": True},
        "python": "3.11.7",
        "platform": "Linux-x86_64",
        "machine": "x86_64",
        "devices": {
            "cpu": {"present": True, "detail": "x86_64"},
            "cuda": {"present": cuda_present, "detail": "GPU" if cuda_present else "cuda absent: no CUDA GPU is visible"},
            "mps": {"present": False, "detail": "mps absent"},
        },
        "selection": {"devices": None, "dtypes": None, "claims": None},
        "exitstatus": 0,
        "wall_seconds": 1.0,
        "claims": claims,
        "tests": rows,
    }


def row(claim_id: str, device: str | None, outcome: str, *, observed=True, expected=True, reason=None, message=None, name="flag") -> dict:
    params = {"device": device, "dtype": "float32"} if device else {}
    ok = outcome != "failed"
    suffix = f"[{device}-float32]" if device else ""
    return {
        "nodeid": f"spec/suite/test_x.py::test_{claim_id.lower().replace('-', '_')}{suffix}",
        "claim": claim_id,
        "params": params,
        "outcome": outcome,
        "reason": reason,
        "duration": 0.001,
        "observations": [] if outcome == "skipped" else [{"name": name, "observed": observed, "expected": expected, "ok": ok}],
        "expectations": [],
        "message": message,
    }


def synthetic_results(tmp_path: Path, failing: str | None = None) -> list[Path]:
    """Two torch versions, every registered claim: cpu passes, cuda is skipped; ``failing`` fails on the older cpu."""
    paths = []
    for release in ("2.0.1", "2.13.0"):
        rows = []
        for cid in registry():
            if cid == failing and release == "2.0.1":
                rows.append(row(cid, "cpu", "failed", observed=False, message=f"ClaimCheckFailed: {cid} flag: expected True, observed False"))
            else:
                rows.append(row(cid, "cpu", "passed"))
            rows.append(row(cid, "cuda", "skipped", reason="cuda absent: no CUDA GPU is visible"))
        path = tmp_path / f"torch-{release}.json"
        path.write_text(json.dumps(results_doc(release, rows)), encoding="utf-8")
        paths.append(path)
    return paths


def first_claim() -> str:
    return next(iter(registry()))


# --------------------------------------------------------------------------- explanations


def test_every_claim_has_an_explanation():
    explanations = docs.load_explanations()
    missing = [cid for cid in registry() if not explanations.get(cid, "").strip()]
    assert not missing, (
        f"claims without an explanation in spec/explanations/: {', '.join(missing)}; add a '## CLAIM-ID' section "
        "saying in a few sentences why the rule holds"
    )


def test_every_explanation_names_a_claim():
    unknown = sorted(set(docs.load_explanations()) - set(registry()))
    assert not unknown, f"spec/explanations/ explains claims that no test states: {', '.join(unknown)}"


def test_explanations_are_a_few_sentences_of_prose():
    for cid, text in docs.load_explanations().items():
        if cid not in registry():
            continue
        assert 80 <= len(text) <= 1500, f"{cid}: an explanation is a few sentences ({len(text)} characters)"
        assert "```" not in text and not re.search(r"^\s*#", text, re.M), f"{cid}: no code blocks or headings"
        assert "TODO" not in text, f"{cid}: unfinished explanation"


def test_explanations_file_rejects_a_duplicate(tmp_path):
    path = tmp_path / "e.md"
    path.write_text("## LEAF-001\n\none\n\n## LEAF-001\n\ntwo\n", encoding="utf-8")
    with pytest.raises(docs.ExplanationError, match="LEAF-001 is explained twice"):
        docs.load_explanations(path)


def test_inline_markdown_subset_becomes_safe_html():
    out = docs.paragraphs_html("Use `a<b` and **bold**, *em*, [link](https://example.org).\n\nSecond <script>.")
    assert out == (
        '<p>Use <code>a&lt;b</code> and <strong>bold</strong>, <em>em</em>, <a href="https://example.org">link</a>.</p>\n'
        "<p>Second &lt;script&gt;.</p>"
    )


def test_values_are_shown_in_python_notation_without_addresses():
    assert docs.format_value(True) == "True"
    assert docs.format_value(None) == "None"
    assert docs.format_value("<MulBackward0 object at 0x7f00deadbeef>") == "<MulBackward0 object>"
    assert docs.format_value({"tensor": [6.0], "dtype": "float32", "shape": [1]}) == "tensor [6.0] (shape [1])"
    assert docs.format_value({"type": "RuntimeError", "message": "boom"}) == "RuntimeError: boom"
    assert docs.format_value({"type": "RuntimeError", "message": "bo+m"}, expected=True) == "RuntimeError matching bo+m"
    assert docs.ref_label("https://github.com/pytorch/pytorch/pull/92753") == "pytorch/pytorch#92753"


# --------------------------------------------------------------------------- rendering


@pytest.fixture
def jinja():
    return pytest.importorskip("jinja2", reason="the claim book needs jinja2 (tox -e docs installs it)")


def test_book_lists_every_claim_with_all_its_parts(jinja, tmp_path):
    files = docs.build_book(synthetic_results(tmp_path))
    index, page = files["README.md"], files["index.html"]
    explanations = docs.load_explanations()
    html_code = {html.unescape(b) for b in re.findall(r'<pre><code class="language-python">(.*?)</code></pre>', page, re.S)}
    for cid, c in registry().items():
        section_file = f"sections/{docs.slug(c.section)}.md"
        md = files[section_file]
        assert f"]({section_file}#{cid})" in index, f"{cid}: not linked from the index"
        assert f'<a id="{cid}"></a>\n\n## {cid}\n' in md, f"{cid}: no anchor named after the ID"
        assert f"> {docs.md_text(c.statement)}" in md
        assert f"**Section:** {c.section} ({c.part})" in md
        if explanations.get(cid):
            assert explanations[cid].split("\n")[0] in md, f"{cid}: explanation missing"
        for t in c.tests:
            assert f"\n```python\n{t.source}\n```\n" in md, f"{cid}: {t.name}'s source is not embedded verbatim"
            assert t.source in html_code, f"{cid}: {t.name}'s source is not in the HTML book"
        assert "| 2.0.1 (cpu) | ✅ pass 1/1 | ⏭ skip |" in md, f"{cid}: no status table"
        assert "cuda on torch 2.0.1, 2.13.0: cuda absent: no CUDA GPU is visible" in md
        assert f'<article class="claim" id="{cid}" data-id="{cid}"' in page
        assert f'<p class="statement">{c.statement}</p>' in html.unescape(page)
    for name in SECTION_NAMES:
        if any(c.section == name for c in registry().values()):
            assert f"sections/{docs.slug(name)}.md" in files


def test_a_failure_shows_where_and_why(jinja, tmp_path):
    cid = first_claim()
    files = docs.build_book(synthetic_results(tmp_path, failing=cid))
    md = files[f"sections/{docs.slug(registry()[cid].section)}.md"]
    assert "**Status:** ❌ fails" in md.split(f"## {cid}\n", 1)[1]
    assert "| 2.0.1 (cpu) | ❌ fail 1/1 | ⏭ skip |" in md
    assert f"`ClaimCheckFailed: {cid} flag: expected True, observed False`" in md
    assert "❌ observed `False`, expected `True` (1 run; torch 2.0.1)" in md
    assert f'id="{cid}" data-id="{cid}" data-section="{docs.slug(registry()[cid].section)}" data-status="fail"' in files["index.html"]


def test_version_gated_changes_are_shown_with_their_reference(jinja, tmp_path):
    demo = Claim(
        "DEMO-001",
        "A demo claim whose message changed.",
        "Leaf tensors",
        tests=[claims_module.TestRef("spec/suite/test_demo.py", "test_demo", 3, "def test_demo(check):\n    pass")],
        changes=[Change("DEMO-001/message", {"<2.4": "old text", ">=2.4": "new text"}, "https://github.com/pytorch/pytorch/pull/1")],
    )
    r_old = row("DEMO-001", "cpu", "passed")
    r_old["expectations"] = [{"key": "DEMO-001/message", "branch": "<2.4", "expected": "old text"}]
    r_new = row("DEMO-001", "cpu", "passed")
    r_new["expectations"] = [{"key": "DEMO-001/message", "branch": ">=2.4", "expected": "new text"}]
    for release, r in (("2.0.1", r_old), ("2.13.0", r_new)):
        (tmp_path / f"{release}.json").write_text(json.dumps(results_doc(release, [r])), encoding="utf-8")
    files = docs.build_book([tmp_path], registry={"DEMO-001": demo}, explanations={"DEMO-001": "Because."})
    md = files["sections/leaf-tensors.md"]
    assert (
        "- `message` changed between torch 2.3.1 and 2.4.1 ([pytorch/pytorch#1](https://github.com/pytorch/pytorch/pull/1)):"
        in md
    )
    assert "  - torch `<2.4`: `old text` (applied in these results to 2.0.1)" in md
    assert "  - torch `>=2.4`: `new text` (applied in these results to 2.13.0)" in md
    assert '<a href="https://github.com/pytorch/pytorch/pull/1">pytorch/pytorch#1</a>' in files["index.html"]


def test_claims_without_results_are_marked_not_run(jinja, tmp_path):
    cid = first_claim()
    path = tmp_path / "one.json"
    path.write_text(json.dumps(results_doc("2.13.0", [row(cid, "cpu", "passed")])), encoding="utf-8")
    files = docs.build_book([path])
    others = [c for c in registry() if c != cid]
    if others:
        assert f'id="{others[0]}" data-id="{others[0]}"' in files["index.html"]
        assert 'data-status="not run"' in files["index.html"]


def test_output_is_deterministic(jinja, tmp_path):
    paths = synthetic_results(tmp_path, failing=first_claim())
    a = docs.build_book(paths)
    b = docs.build_book(list(reversed(paths)))
    assert a == b
    text = "".join(a.values())
    assert "2026-01-02T03:04:05+00:00" in text  # the results' own timestamps only
    assert not re.search(r" at 0x[0-9a-f]{6,}", text)


def test_html_book_is_self_contained_and_mobile_ready(jinja, tmp_path):
    page = docs.build_book(synthetic_results(tmp_path))["index.html"]
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert not re.search(r"<(script|img|iframe)[^>]+src=", page), "no external scripts or images"
    assert not re.search(r"<link[^>]+rel=.?stylesheet", page), "no external stylesheets"
    assert "@import" not in page and "url(" not in page
    assert 'id="filter"' in page and 'id="section"' in page and 'data-status="fail"' in page


# --------------------------------------------------------------------------- command line


def run_cli(*argv) -> int:
    from spec.__main__ import main

    return main(["docs", *map(str, argv)])


def test_cli_writes_and_checks_the_book(jinja, tmp_path, capsys):
    paths = synthetic_results(tmp_path)
    out = tmp_path / "book"
    assert run_cli(*paths, "-o", out) == 0
    assert (out / "README.md").is_file() and (out / "index.html").is_file()
    assert run_cli("--check", *paths, "-o", out) == 0
    assert "up to date" in capsys.readouterr().out

    section = next((out / "sections").glob("*.md"))
    section.write_text(section.read_text(encoding="utf-8") + "edited\n", encoding="utf-8")
    (out / "sections" / "retired-section.md").write_text("old\n", encoding="utf-8")
    (out / "index.html").unlink()
    assert run_cli("--check", *paths, "-o", out) == 1
    report = capsys.readouterr().out
    assert "is stale" in report
    assert f"sections/{section.name} (differs)" in report
    assert "sections/retired-section.md (no longer generated)" in report
    assert "index.html (missing)" in report

    assert run_cli(*paths, "-o", out) == 0
    assert not (out / "sections" / "retired-section.md").exists()
    assert run_cli("--check", *paths, "-o", out) == 0


@pytest.mark.parametrize(
    "content, fragment",
    [
        (None, "no such file"),
        ("{not json", "not a results file"),
        ('{"hello": 1}', "not an autograd-spec results file"),
    ],
)
def test_cli_reports_bad_input_in_one_line(tmp_path, capsys, content, fragment):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert run_cli(path, "-o", tmp_path / "book") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("python -m spec docs: error: ") and fragment in err
    assert not (tmp_path / "book").exists()


# --------------------------------------------------------------------------- the committed book


def test_committed_book_is_current(jinja):
    """CI fails when docs/book differs from a fresh rendering of the committed full-matrix results."""
    if not sorted(MATRIX_RESULTS.glob("*.json")):
        pytest.skip(f"no committed full-matrix results in {MATRIX_RESULTS.relative_to(ROOT)} to render the book from")
    files = docs.build_book([MATRIX_RESULTS])
    stale = docs.stale_files(files, BOOK)
    assert not stale, (
        "docs/book is stale; regenerate it with: python -m spec docs docs/matrix/results -o docs/book\n  " + "\n  ".join(stale)
    )


def test_committed_book_embeds_test_code_verbatim():
    """Every Python block of the committed book is a registered test's source, character for character."""
    pages = sorted((BOOK / "sections").glob("*.md")) if BOOK.is_dir() else []
    if not pages:
        pytest.skip("no committed book in docs/book")
    sources = {t.source for c in registry().values() for t in c.tests}
    for page in pages:
        for block in re.findall(r"^```python\n(.*?)\n```$", page.read_text(encoding="utf-8"), re.S | re.M):
            assert block in sources, f"{page.relative_to(ROOT)}: a code block is not the source of any claim test"
