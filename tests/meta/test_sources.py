"""The sources map (spec/data/sources/*.toml): every documented statement is enforced by claims that exist, or
waived with a reason; IDs are well formed and unique; and the loader reports a malformed file in one line."""

import pytest

from spec.claims import registry
from spec.sources import MAX_QUOTE_WORDS, SourcesError, load, parse_page, sources_of, totals, unknown_claims

HEADER = '[page]\nprefix = "DEMO"\ntitle = "Demo page"\nurl = "https://docs.pytorch.org/demo.html"\n'


def statement(**fields):
    base = {"id": "S-DEMO-001", "section": "Intro", "says": "A rule.", "claims": ["LEAF-001"]}
    base.update(fields)
    lines = ["\n[[statement]]"]
    for key, value in base.items():
        if value is None:
            continue
        if isinstance(value, list):
            lines.append(f"{key} = [{', '.join(repr(v).replace(chr(39), chr(34)) for v in value)}]")
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


def test_every_statement_is_enforced_or_waived():
    pages = load(allow_open=True)
    open_ = [s.id for p in pages for s in p.statements if s.coverage == "open"]
    assert not open_, f"statements neither enforced nor waived: {', '.join(open_)}"
    load()  # the strict loader agrees


def test_every_cited_claim_exists():
    assert not unknown_claims(load(), registry()), "\n".join(unknown_claims(load(), registry()))


def test_inverse_index_names_only_known_statements():
    pages = load()
    ids = {s.id for p in pages for s in p.statements}
    for claim_id, statements in sources_of(pages).items():
        assert claim_id in registry()
        assert set(statements) <= ids


def test_the_map_is_large_and_mostly_enforced():
    """Issue 17's bar for the merged map: at least 250 statements, at least 80 % enforced."""
    t = totals(load())
    assert t["total"] >= 250, f"{t['total']} statements; the map needs at least 250"
    assert t["enforced"] >= 0.8 * t["total"], f"{t['enforced']} of {t['total']} enforced; at least 80 % needed"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEADER + statement() + statement(), r"S-DEMO-001 is given twice"),
        (HEADER + statement(id="S-MECH-001"), r"the ID's prefix must be the page's, 'DEMO'"),
        (HEADER + statement(id="S-DEMO-1"), r"statement ID 'S-DEMO-1' must look like 'S-DEMO-001'"),
        (HEADER + statement(waiver="out-of-scope", why="Advice."), r"give claims or a waiver, not both"),
        (HEADER + statement(claims=None), r"neither claims nor a waiver"),
        (HEADER + statement(claims=None, waiver="too-hard", why="x"), r"unknown waiver kind 'too-hard'"),
        (HEADER + statement(claims=None, waiver="out-of-scope"), r"why \(the waiver's reason\) must be a non-empty"),
        (HEADER + statement(quote=" ".join(["word"] * (MAX_QUOTE_WORDS + 1))),
         rf"the quote has {MAX_QUOTE_WORDS + 1} words, at most {MAX_QUOTE_WORDS}"),
        (HEADER + statement(says="  "), r"says must be a non-empty string"),
        (HEADER + statement(claims=[]), r"claims must be a non-empty list"),
        (HEADER + statement(colour="red"), r"unknown key 'colour'"),
        (HEADER.replace('"DEMO"', '"demo"') + statement(), r"prefix 'demo' must be capital letters"),
        (HEADER.replace("https://", "http://") + statement(), r"url must be an https:// address"),
        ("[page\n", r"not valid TOML"),
        (HEADER, r"no \[\[statement\]\] tables"),
    ],
)
def test_loader_reports_a_malformed_file_in_one_line(text, message):
    with pytest.raises(SourcesError, match=message) as info:
        parse_page(text, "demo.toml")
    assert "\n" not in str(info.value)
    assert str(info.value).startswith("demo.toml")


def test_open_statements_load_only_when_asked(tmp_path):
    (tmp_path / "demo.toml").write_text(HEADER + statement(claims=None), encoding="utf-8")
    with pytest.raises(SourcesError, match="neither claims nor a waiver"):
        load(tmp_path)
    (page,) = load(tmp_path, allow_open=True)
    assert page.counts == {"enforced": 0, "waived": 0, "open": 1}


def test_a_prefix_is_owned_by_one_file(tmp_path):
    for name in ("a.toml", "b.toml"):
        (tmp_path / name).write_text(HEADER + statement(), encoding="utf-8")
    with pytest.raises(SourcesError, match=r"b\.toml: prefix 'DEMO' is already used by a\.toml"):
        load(tmp_path)


def test_unknown_claims_are_named(tmp_path):
    (tmp_path / "demo.toml").write_text(HEADER + statement(claims=["LEAF-999"]), encoding="utf-8")
    assert unknown_claims(load(tmp_path), registry()) == ["S-DEMO-001 (demo.toml) cites LEAF-999, which no test states"]


def test_cli_sources_and_list(capsys):
    import json

    from spec.__main__ import main

    assert main(["sources", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["total"] == sum(len(p["statements"]) for p in report["pages"])
    assert main(["sources", "--format", "yaml"]) == 4
    err = capsys.readouterr().err.strip()
    assert "unknown format 'yaml'" in err and "\n" not in err
    assert main(["list", "--format", "json"]) == 0
    listed = {c["id"]: c["sources"] for c in json.loads(capsys.readouterr().out)}
    assert listed["HOOK-008"] and all(s.startswith("S-") for s in listed["HOOK-008"])
