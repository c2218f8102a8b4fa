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

from spec import book, render
from spec import claims as claims_module
from spec.claims import SECTION_NAMES, Claim, project_root, registry
from spec.results import SCHEMA, SCHEMA_VERSION
from spec.versions import Versioned

ROOT = project_root()
BOOK = ROOT / "docs" / "book"
MATRIX_RESULTS = ROOT / "docs" / "matrix" / "results"


# --------------------------------------------------------------------------- synthetic results


def results_doc(release: str, rows: list[dict], *, build: str = "cpu", cuda_present: bool = False, label=None) -> dict:
    """A minimal valid results document (schema version 2) for torch ``release``."""
    claims = {r["claim"]: {"statement": None, "section": None, "kind": r["kind"], "ref": None} for r in rows}
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
        "modes": {"eager": {"available": True, "detail": "plain PyTorch"}},
        "selection": {"devices": None, "dtypes": None, "modes": None, "claims": None, "partial": False, "args": []},
        "exitstatus": 0,
        "wall_seconds": 1.0,
        "claims": claims,
        "tests": rows,
    }


def row(claim_id: str, device: str | None, outcome: str, *, observed=True, expected=True, reason=None, message=None,
        name="flag", mode="eager", kind="rule", verdict=None) -> dict:
    params = {"device": device, "dtype": "float32"} if device else {}
    params["mode"] = mode
    ok = outcome != "failed"
    suffix = f"[{device}-float32-{mode}]" if device else f"[{mode}]"
    obs = {"name": name, "observed": observed, "expected": expected, "ok": ok}
    if verdict:
        obs["hazard"] = verdict
    return {
        "nodeid": f"spec/suite/test_x.py::test_{claim_id.lower().replace('-', '_')}{suffix}",
        "claim": claim_id,
        "kind": kind,
        "params": params,
        "outcome": outcome,
        "reason": reason,
        "duration": 0.001,
        "observations": [] if outcome == "skipped" else [obs],
        "expectations": [],
        "message": message,
        "failure": None,
    }


def synthetic_results(tmp_path: Path, failing: str | None = None) -> list[Path]:
    """Two torch versions, every registered claim passes on cpu (cuda absent); ``failing`` fails on the older one."""
    paths = []
    for release in ("2.0.1", "2.13.0"):
        rows = []
        for cid in registry():
            if cid == failing and release == "2.0.1":
                rows.append(row(cid, "cpu", "failed", observed=False, message=f"ClaimCheckFailed: {cid} flag: expected True, observed False"))
            else:
                rows.append(row(cid, "cpu", "passed"))
        path = tmp_path / f"torch-{release}.json"
        path.write_text(json.dumps(results_doc(release, rows)), encoding="utf-8")
        paths.append(path)
    return paths


def first_claim() -> str:
    return next(iter(registry()))


# --------------------------------------------------------------------------- explanations


def test_every_claim_has_an_explanation():
    explanations = book.load_explanations()
    missing = [cid for cid in registry() if not explanations.get(cid, "").strip()]
    assert not missing, (
        f"claims without an explanation in spec/explanations/: {', '.join(missing)}; add a '## CLAIM-ID' section "
        "saying in a few sentences why the rule holds"
    )


def test_every_explanation_names_a_claim():
    unknown = sorted(set(book.load_explanations()) - set(registry()))
    assert not unknown, f"spec/explanations/ explains claims that no test states: {', '.join(unknown)}"


def test_explanations_are_a_few_sentences_of_prose():
    for cid, text in book.load_explanations().items():
        if cid not in registry():
            continue
        assert 80 <= len(text) <= 1500, f"{cid}: an explanation is a few sentences ({len(text)} characters)"
        assert "```" not in text and not re.search(r"^\s*#", text, re.M), f"{cid}: no code blocks or headings"
        assert "TODO" not in text, f"{cid}: unfinished explanation"


def test_explanations_file_rejects_a_duplicate(tmp_path):
    path = tmp_path / "e.md"
    path.write_text("## LEAF-001\n\none\n\n## LEAF-001\n\ntwo\n", encoding="utf-8")
    with pytest.raises(book.ExplanationError, match="LEAF-001 is explained twice"):
        book.load_explanations(path)


def test_inline_markdown_subset_becomes_safe_html():
    out = render.paragraphs_html("Use `a<b` and **bold**, *em*, [link](https://example.org).\n\nSecond <script>.")
    assert out == (
        '<p>Use <code>a&lt;b</code> and <strong>bold</strong>, <em>em</em>, <a href="https://example.org">link</a>.</p>\n'
        "<p>Second &lt;script&gt;.</p>"
    )


def test_explanations_are_commonmark():
    """A maintained Markdown parser (markdown-it-py): products stay products, code inside bold stays code."""
    assert render.paragraphs_html("3 * 4 = 12 and 0 * inf") == "<p>3 * 4 = 12 and 0 * inf</p>"
    assert render.paragraphs_html("**see `x`**\nnext line") == "<p><strong>see <code>x</code></strong> next line</p>"
    assert render.paragraphs_html('"quoted" & <b>') == '<p>"quoted" &amp; &lt;b&gt;</p>'


def test_values_are_shown_in_python_notation_without_addresses():
    assert book.format_value(True) == "True"
    assert book.format_value(None) == "None"
    assert book.format_value("<MulBackward0 object at 0x7f00deadbeef>") == "<MulBackward0 object>"
    assert book.format_value({"tensor": [6.0], "dtype": "float32", "shape": [1]}) == "tensor [6.0] (shape [1])"
    assert book.format_value({"type": "RuntimeError", "message": "boom"}) == "RuntimeError: boom"
    assert book.format_value({"type": "RuntimeError", "message": "bo+m"}, expected=True) == "RuntimeError matching bo+m"
    assert render.ref_label("https://github.com/pytorch/pytorch/pull/92753") == "pytorch/pytorch#92753"


# --------------------------------------------------------------------------- rendering


@pytest.fixture
def jinja():
    return pytest.importorskip("jinja2", reason="the claim book needs jinja2 (tox -e docs installs it)")


def test_book_lists_every_claim_with_all_its_parts(jinja, tmp_path):
    files = book.build_book(synthetic_results(tmp_path))
    index, page = files["README.md"], files["index.html"]
    explanations = book.load_explanations()
    html_code = {html.unescape(b) for b in re.findall(r'<pre><code class="language-python">(.*?)</code></pre>', page, re.S)}
    for cid, c in registry().items():
        section_file = f"sections/{render.slug(c.section)}.md"
        md = files[section_file]
        assert f"]({section_file}#{cid})" in index, f"{cid}: not linked from the index"
        assert f'<a id="{cid}"></a>\n\n## {cid}\n' in md, f"{cid}: no anchor named after the ID"
        assert f"> {render.md_text(c.statement)}" in md
        assert f"**Section:** {c.section} ({c.part})" in md
        if explanations.get(cid):
            assert explanations[cid].split("\n")[0] in md, f"{cid}: explanation missing"
        for t in c.tests:
            assert f"\n```python\n{t.source}\n```\n" in md, f"{cid}: {t.name}'s source is not embedded verbatim"
            assert t.source in html_code, f"{cid}: {t.name}'s source is not in the HTML book"
        assert "| torch | cpu eager |\n|---|---|\n| 2.0.1 (cpu) | ✅ pass 1/1 |\n" in md, f"{cid}: no status table"
        assert "cuda eager" not in md.split(f"## {cid}\n", 1)[1].split("### Observed")[0], f"{cid}: an absent device is a column"
        assert f'<article class="claim" id="{cid}" data-id="{cid}"' in page
        assert f'<p class="statement">{c.statement}</p>' in html.unescape(page)
    for name in SECTION_NAMES:
        if any(c.section == name for c in registry().values()):
            assert f"sections/{render.slug(name)}.md" in files


def test_a_failure_shows_where_and_why(jinja, tmp_path):
    cid = first_claim()
    files = book.build_book(synthetic_results(tmp_path, failing=cid))
    md = files[f"sections/{render.slug(registry()[cid].section)}.md"]
    assert "**Status:** ❌ fails" in md.split(f"## {cid}\n", 1)[1]
    assert "| 2.0.1 (cpu) | ❌ fail 1/1 |" in md
    assert f"- ❌ fails: ClaimCheckFailed: {cid} flag: expected True, observed False (cpu eager on torch 2.0.1)" in md
    assert "❌ observed `False`, expected `True` (1 test; torch 2.0.1)" in md
    assert f'id="{cid}" data-id="{cid}" data-section="{render.slug(registry()[cid].section)}" data-status="fail"' in files["index.html"]


def test_version_gated_changes_are_shown_with_their_reference(jinja, tmp_path):
    demo = Claim(
        "DEMO-001",
        "A demo claim whose message changed.",
        "Leaf tensors",
        tests=[claims_module.TestRef("spec/suite/test_demo.py", "test_demo", 3, "def test_demo(check):\n    pass")],
        changes=[Versioned("DEMO-001/message", {"<2.4": "old text", ">=2.4": "new text"}, "https://github.com/pytorch/pytorch/pull/1",
                           note="confirmed by observation: old on 2.0.1, new on 2.13.0 <and> *more*")],
    )
    r_old = row("DEMO-001", "cpu", "passed")
    r_old["expectations"] = [{"key": "DEMO-001/message", "branch": "<2.4", "expected": "old text"}]
    r_new = row("DEMO-001", "cpu", "passed")
    r_new["expectations"] = [{"key": "DEMO-001/message", "branch": ">=2.4", "expected": "new text"}]
    for release, r in (("2.0.1", r_old), ("2.13.0", r_new)):
        (tmp_path / f"{release}.json").write_text(json.dumps(results_doc(release, [r])), encoding="utf-8")
    files = book.build_book([tmp_path], registry={"DEMO-001": demo}, explanations={"DEMO-001": "Because."}, mutants=None)
    md = files["sections/leaf-tensors.md"]
    assert (
        "- `message` changed between torch 2.3.1 and 2.4.1 ([pytorch/pytorch#1](https://github.com/pytorch/pytorch/pull/1)):"
        in md
    )
    assert "| 2.0.1 (cpu) | ✅ pass 1/1 |\n| 2.13.0 (cpu) | ✅ pass 1/1 |" in md  # 2.4.1 not among the runs: no 🔄
    assert "  - torch `<2.4`: `old text` (applied in these results to 2.0.1)" in md
    assert "  - torch `>=2.4`: `new text` (applied in these results to 2.13.0)" in md
    assert '<a href="https://github.com/pytorch/pytorch/pull/1">pytorch/pytorch#1</a>' in files["index.html"]
    # the note of the by_version declaration is shown with its change
    assert "  - note: confirmed by observation: old on 2.0.1, new on 2.13.0 \\<and> \\*more\\*\n  - torch `<2.4`" in md
    assert '<div class="muted">Note: confirmed by observation: old on 2.0.1, new on 2.13.0 &lt;and&gt; *more*</div>' in files["index.html"]


def demo(cid: str = "DEMO-001", kind: str = "rule") -> Claim:
    return Claim(
        cid,
        f"A demo claim {cid}.",
        "Leaf tensors",
        kind=kind,
        ref="https://github.com/pytorch/pytorch/issues/7" if kind == "hazard" else None,
        tests=[claims_module.TestRef("spec/suite/test_demo.py", "test_demo", 3, "def test_demo(check):\n    pass")],
    )


def demo_book(tmp_path: Path, runs: dict[str, list[dict]], claims: list[Claim], mutants=None) -> dict[str, str]:
    for release, rows in runs.items():
        (tmp_path / f"{release}.json").write_text(json.dumps(results_doc(release, rows)), encoding="utf-8")
    return book.build_book([tmp_path], registry={c.id: c for c in claims}, explanations={c.id: "Because." for c in claims},
                           mutants=mutants)


def test_n_a_is_shown_as_n_a_with_its_reason_never_as_pass(jinja, tmp_path):
    why = "torch.autograd.grad has no materialize_grads before torch 2.1"
    files = demo_book(tmp_path, {
        "2.0.1": [row("DEMO-001", "cpu", "n/a", reason=why), row("DEMO-002", "cpu", "n/a", reason=why)],
        "2.1.2": [row("DEMO-001", "cpu", "passed"), row("DEMO-002", "cpu", "n/a", reason=why)],
    }, [demo("DEMO-001"), demo("DEMO-002")])
    md = files["sections/leaf-tensors.md"]
    one, two = md.split("## DEMO-002\n")
    assert "| 2.0.1 (cpu) | ➖ n/a |\n| 2.1.2 (cpu) | ✅ pass 1/1 |" in one
    assert f"- ➖ n/a: {render.md_text(why)} (cpu eager on torch 2.0.1)" in one
    assert "**Status:** ➖ n/a" in two and "✅" not in two.split("### Observed")[0]
    assert "| [DEMO-002](sections/leaf-tensors.md#DEMO-002) | A demo claim DEMO-002. | ➖ n/a |" in files["README.md"]
    page = files["index.html"]
    assert 'data-id="DEMO-002" data-section="leaf-tensors" data-status="n/a"' in page
    assert '<td class="st-na" title="1 n/a: ' in page and 'button type="button" class="chip st-na" data-status="n/a"' in page


def test_versions_are_ordered_as_versions_and_modes_are_columns(jinja, tmp_path):
    rows = [row("DEMO-001", "cpu", "passed"), row("DEMO-001", "cpu", "passed", mode="func")]
    files = demo_book(tmp_path, {"2.10.0": rows, "2.9.1": rows}, [demo()])
    md = files["sections/leaf-tensors.md"]
    assert "| torch | cpu eager | cpu func |\n|---|---|---|\n| 2.9.1 (cpu) | ✅ pass 1/1 | ✅ pass 1/1 |\n| 2.10.0 (cpu) |" in md
    assert "<th>cpu eager</th><th>cpu func</th>" in files["index.html"]


def test_claims_without_a_device_are_any_device(jinja, tmp_path):
    files = demo_book(tmp_path, {"2.13.0": [row("DEMO-001", None, "passed")]}, [demo()])
    md = files["sections/leaf-tensors.md"]
    assert "| torch | any device eager |\n|---|---|\n| 2.13.0 (cpu) | ✅ pass 1/1 |" in md


def test_hazards_have_a_page_with_truth_observed_and_fixed(jinja, tmp_path):
    expected = {"hazard": [2.0], "truth": [1.0], "present": True}
    wrong = {"tensor": [2.0], "dtype": "float32", "shape": [1]}
    right = {"tensor": [1.0], "dtype": "float32", "shape": [1]}
    files = demo_book(tmp_path, {
        "2.9.1": [row("HZ-001", "cpu", "passed", kind="hazard", name="a.grad", observed=wrong, expected=expected, verdict="present")],
        "2.10.0": [dict(row("HZ-001", "cpu", "fixed", kind="hazard", name="a.grad", observed=right, expected=expected, verdict="fixed",
                            message="hazard fixed in torch 2.10.0: a.grad is now [1.0], the true value"),
                        failure={"kind": "hazard-fixed", "check": "a.grad"})],
    }, [demo(), demo("HZ-001", kind="hazard")])
    page = files["hazards.md"]
    assert "## [HZ-001](sections/leaf-tensors.md#HZ-001): 🩹 hazard fixed" in page
    assert "DEMO-001" not in page  # rules are not hazards
    assert "| 2.9.1 (cpu) | ✅ pass 1/1 |\n| 2.10.0 (cpu) | 🩹 fixed 1/1 |" in page
    assert "- 🩹 hazard fixed: hazard fixed in torch 2.10.0: a.grad is now \\[1.0\\], the true value (cpu eager on torch 2.10.0)" in page
    assert "- **a.grad**: the truth is `[1.0]`; the hazard gives `[2.0]`." in page
    assert "  - observed `tensor [1.0] (shape [1])` (fixed) (1 test; torch 2.10.0)" in page
    assert "  - observed `tensor [2.0] (shape [1])` (present) (1 test; torch 2.9.1)" in page
    assert "Upstream: [pytorch/pytorch#7](https://github.com/pytorch/pytorch/issues/7)" in page
    assert "[Hazards](hazards.md) (1)" in files["README.md"]
    html_page = files["index.html"]
    assert '<a href="#hazards">Hazards (1)</a>' in html_page and '<section class="sec" id="hazards">' in html_page
    assert len(re.findall(r'(?<![\w-])id="HZ-001"', html_page)) == 1  # one anchor per ID: the claim's article
    assert 'data-id="HZ-001" data-section="leaf-tensors" data-status="fixed"' in html_page


def test_each_claim_lists_the_mutants_that_turn_it_red(jinja, tmp_path):
    runs = {"2.13.0": [row("DEMO-001", "cpu", "passed"), row("DEMO-002", "cpu", "passed")]}
    claims = [demo(), demo("DEMO-002")]
    files = demo_book(tmp_path, runs, claims, mutants={"DEMO-001": [{"name": "flip_leaf", "doc": "is_leaf answers False."}]})
    md = files["sections/leaf-tensors.md"]
    one, two = md.split("## DEMO-002\n")
    assert "### What would turn it red\n\n- `flip_leaf`: is\\_leaf answers False." in one or (
        "### What would turn it red\n\n- `flip_leaf`: is_leaf answers False." in one
    )
    assert "No mutant of torch in the sensitivity proof turns this claim red." in two
    assert "<h4>What would turn it red</h4>" in files["index.html"] and "<code>flip_leaf</code>" in files["index.html"]
    without = demo_book(tmp_path, runs, claims, mutants=None)
    assert "turn it red" not in "".join(without.values())


def test_one_anchor_spelling_per_id(jinja, tmp_path):
    files = demo_book(tmp_path, {"2.13.0": [row("DEMO-001", "cpu", "passed")]}, [demo()])
    text = "".join(files.values())
    assert 'id="claim-DEMO-001"' not in text and '#demo-001' not in text and 'id="demo-001"' not in text
    assert '<a id="DEMO-001"></a>' in files["sections/leaf-tensors.md"]


def test_claims_without_results_are_marked_not_run(jinja, tmp_path):
    cid = first_claim()
    path = tmp_path / "one.json"
    path.write_text(json.dumps(results_doc("2.13.0", [row(cid, "cpu", "passed")])), encoding="utf-8")
    files = book.build_book([path])
    others = [c for c in registry() if c != cid]
    if others:
        assert f'id="{others[0]}" data-id="{others[0]}"' in files["index.html"]
        assert 'data-status="not run"' in files["index.html"]


def test_output_is_deterministic(jinja, tmp_path):
    paths = synthetic_results(tmp_path, failing=first_claim())
    a = book.build_book(paths)
    b = book.build_book(list(reversed(paths)))
    assert a == b
    text = "".join(a.values())
    assert "2026-01-02T03:04:05+00:00" in text  # the results' own timestamps only
    assert not re.search(r" at 0x[0-9a-f]{6,}", text)


def test_html_book_is_self_contained_and_mobile_ready(jinja, tmp_path):
    page = book.build_book(synthetic_results(tmp_path))["index.html"]
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
    files = book.build_book([MATRIX_RESULTS])
    stale = book.stale_files(files, BOOK)
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


# --------------------------------------------------------------------------- the hand-written pages

#: README.md and docs/*.md: written by hand (docs/book, docs/matrix and docs/bench are generated).
HAND_WRITTEN = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def prose(text: str) -> str:
    """Markdown without its fenced blocks and inline code: what a reader sees as links and headings."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def anchors(path: Path) -> set[str]:
    """The fragments a link into ``path`` may use: explicit ids and GitHub's heading slugs."""
    text = path.read_text(encoding="utf-8")
    found = set(re.findall(r"""\bid=["']([^"']+)["']""", text))
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", FENCE.sub("", text), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


def test_hand_written_pages_link_only_to_what_exists():
    broken = []
    for page in HAND_WRITTEN:
        for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):
                continue  # https:, mailto: ...
            file, _, fragment = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            where = f"{page.relative_to(ROOT)}: ({target})"
            if not dest.exists():
                broken.append(f"{where} leads to no file")
            elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
                broken.append(f"{where}: {dest.relative_to(ROOT)} has no anchor {fragment!r}")
    assert not broken, "broken links:\n  " + "\n  ".join(broken)


def test_link_check_sees_broken_links_and_anchors(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A `b` c's d\n\n## A b cs d\n\n<a id=\"X-001\"></a>\n\n```markdown\n## Not a heading\n[x](nowhere.md)\n```\n",
                    encoding="utf-8")
    assert anchors(page) == {"a-b-cs-d", "a-b-cs-d-1", "X-001"}
    assert LINK.findall(prose("[a](b.md#c) ![i](img.png) `[no](code.md)` [w](https://x.org)")) == ["b.md#c", "img.png", "https://x.org"]


def test_hand_written_pages_are_executed():
    from tests.meta.test_examples import documents

    assert set(HAND_WRITTEN) <= set(documents()), "a hand-written page whose Python blocks the doc tests do not run"


def test_readme_starts_with_the_main_job_and_the_test_command_ci_runs():
    """The README's first code block holds the two set-up commands, and .ci/run runs its test command."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first = re.search(r"^```\w*\n(.*?)^```$", readme, re.S | re.M).group(1)
    commands = [line for line in first.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2, f"the README's first code block should hold two commands: {commands}"
    main, test = commands
    assert main.endswith("-m tox -e claims") and test.endswith("-m tox -m test"), commands
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").replace("--quiet", "-q")
    assert test in ci.splitlines(), ".ci/run does not run the README's test command"
    tox = (ROOT / "tox.ini").read_text(encoding="utf-8")
    assert "[testenv:claims]" in tox and re.search(r"^\s+test = ", tox, re.M), "tox.ini lacks the claims env or the test label"
