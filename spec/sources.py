"""The sources map: which documented rules of PyTorch the spec enforces, and which it waives.

One TOML file per PyTorch documentation page, ``spec/data/sources/<page>.toml`` (installed as package data)::

    [page]
    prefix = "MECH"
    title = "Autograd mechanics"
    url = "https://docs.pytorch.org/docs/stable/notes/autograd.html"

    [[statement]]
    id = "S-MECH-001"
    section = "How autograd encodes the history"
    says = "Our one-sentence paraphrase of the normative statement."
    quote = "at most a dozen words, verbatim"      # optional
    claims = ["LEAF-001"]                          # or: waiver = "out-of-scope" and why = "..."

Each statement is *enforced* (it names the claims whose tests go red when torch breaks it), *waived* (with a kind
from :data:`WAIVER_KINDS` and one sentence why), or *open* (neither: an error the meta test reports, which a
half-written file still shows in ``autograd-spec sources``). :func:`load` reads and validates every file; a problem
is one line, :class:`SourcesError`, naming the file and the statement. Nothing here imports torch.

Also the command ``autograd-spec sources [--format text|json|md]``: per page, how many statements are enforced,
waived and open.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

from spec.claims import ClaimError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: The kinds of waiver a statement may carry.
WAIVER_KINDS: dict[str, str] = {
    "not-observable": "not observable from Python on any machine (internal, or a statement of intent)",
    "needs-hardware": "only observable on hardware no runner has (CUDA, MPS, several GPUs)",
    "out-of-scope": "not autograd semantics (performance advice, another subsystem); the reason says which",
}
#: Coverage states of a statement, in the order pages report them.
COVERAGE = ("enforced", "waived", "open")
PREFIX_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*$")
ID_PATTERN = re.compile(r"^S-([A-Z][A-Z0-9]*)-(\d{3})$")
MAX_QUOTE_WORDS = 12
PAGE_KEYS = {"prefix", "title", "url"}
STATEMENT_KEYS = {"id", "section", "says", "quote", "claims", "waiver", "why"}


class SourcesError(ClaimError):
    """A malformed sources file: reported in one line (file, statement, problem)."""


@dataclasses.dataclass(frozen=True)
class Statement:
    """One normative statement of a documentation page."""

    id: str
    page: str  # the page's prefix
    section: str
    says: str
    quote: str = ""
    claims: tuple[str, ...] = ()
    waiver: str = ""
    why: str = ""

    @property
    def coverage(self) -> str:
        return "enforced" if self.claims else "waived" if self.waiver else "open"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "section": self.section, "says": self.says, "coverage": self.coverage}
        if self.quote:
            out["quote"] = self.quote
        if self.claims:
            out["claims"] = list(self.claims)
        if self.waiver:
            out["waiver"], out["why"] = self.waiver, self.why
        return out


@dataclasses.dataclass(frozen=True)
class Page:
    """One documentation page (or page group) and its statements, in file order."""

    prefix: str
    title: str
    url: str
    file: str  # the file's name, e.g. "autograd-mechanics.toml"
    statements: tuple[Statement, ...]

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(COVERAGE, 0)
        for s in self.statements:
            counts[s.coverage] += 1
        return counts

    def as_json(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "title": self.title, "url": self.url, "file": self.file,
                "counts": self.counts, "statements": [s.as_json() for s in self.statements]}


def sources_dir() -> Path:
    """Where the sources files live: beside this module, in the source tree and in an installed package alike."""
    from importlib.resources import files

    return Path(str(files("spec") / "data" / "sources"))


def _text(value: Any, where: str, key: str, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise SourcesError(f"{where}: {key} must be a non-empty string")
    return " ".join(value.split())


def parse_statement(raw: Any, prefix: str, where: str, *, allow_open: bool = False) -> Statement:
    """One ``[[statement]]`` table, validated; ``where`` names the file for the messages."""
    if not isinstance(raw, dict):
        raise SourcesError(f"{where}: each [[statement]] must be a table")
    sid = raw.get("id")
    if not isinstance(sid, str) or not ID_PATTERN.match(sid):
        raise SourcesError(f"{where}: statement ID {sid!r} must look like 'S-{prefix}-001'")
    where = f"{where}: {sid}"
    if ID_PATTERN.match(sid).group(1) != prefix:
        raise SourcesError(f"{where}: the ID's prefix must be the page's, {prefix!r} (S-{prefix}-NNN)")
    unknown = sorted(set(raw) - STATEMENT_KEYS)
    if unknown:
        raise SourcesError(f"{where}: unknown key {unknown[0]!r}; known: {', '.join(sorted(STATEMENT_KEYS))}")
    section = _text(raw.get("section"), where, "section")
    says = _text(raw.get("says"), where, "says")
    quote = _text(raw.get("quote"), where, "quote", required=False)
    if len(quote.split()) > MAX_QUOTE_WORDS:
        raise SourcesError(f"{where}: the quote has {len(quote.split())} words, at most {MAX_QUOTE_WORDS} allowed")
    claims = raw.get("claims")
    waiver = raw.get("waiver")
    if claims is not None and waiver is not None:
        raise SourcesError(f"{where}: give claims or a waiver, not both")
    if claims is not None:
        if not isinstance(claims, list) or not claims or not all(isinstance(c, str) for c in claims):
            raise SourcesError(f"{where}: claims must be a non-empty list of claim IDs")
        if len(set(claims)) != len(claims):
            raise SourcesError(f"{where}: a claim is cited twice")
        if raw.get("why") is not None:
            raise SourcesError(f"{where}: why explains a waiver; this statement has claims")
        return Statement(sid, prefix, section, says, quote, tuple(claims))
    if waiver is not None:
        if waiver not in WAIVER_KINDS:
            raise SourcesError(f"{where}: unknown waiver kind {waiver!r}; known: {', '.join(WAIVER_KINDS)}")
        why = _text(raw.get("why"), where, "why (the waiver's reason)")
        return Statement(sid, prefix, section, says, quote, waiver=waiver, why=why)
    if not allow_open:
        raise SourcesError(f"{where}: neither claims nor a waiver; cite the claims that check it, or waive it")
    return Statement(sid, prefix, section, says, quote)


def parse_page(text: str, name: str, *, allow_open: bool = False) -> Page:
    """One sources file's text (``name``: its file name, for messages)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{name}: not valid TOML ({exc})") from None
    unknown = sorted(set(doc) - {"page", "statement"})
    if unknown:
        raise SourcesError(f"{name}: unknown table {unknown[0]!r}; a sources file has [page] and [[statement]]")
    page = doc.get("page")
    if not isinstance(page, dict):
        raise SourcesError(f"{name}: no [page] table (prefix, title, url)")
    extra = sorted(set(page) - PAGE_KEYS)
    if extra:
        raise SourcesError(f"{name}: unknown key {extra[0]!r} in [page]; known: prefix, title, url")
    prefix = page.get("prefix")
    if not isinstance(prefix, str) or not PREFIX_PATTERN.match(prefix):
        raise SourcesError(f"{name}: [page] prefix {prefix!r} must be capital letters and digits, e.g. 'MECH'")
    title = _text(page.get("title"), name, "[page] title")
    url = _text(page.get("url"), name, "[page] url")
    if not url.startswith("https://"):
        raise SourcesError(f"{name}: [page] url must be an https:// address")
    raw = doc.get("statement", [])
    if not isinstance(raw, list) or not raw:
        raise SourcesError(f"{name}: no [[statement]] tables")
    statements = [parse_statement(r, prefix, name, allow_open=allow_open) for r in raw]
    seen: set[str] = set()
    for s in statements:
        if s.id in seen:
            raise SourcesError(f"{name}: {s.id} is given twice")
        seen.add(s.id)
    return Page(prefix, title, url, name, tuple(statements))


def load(directory: Path | None = None, *, allow_open: bool = False) -> list[Page]:
    """Every sources file under ``directory`` (default :func:`sources_dir`), validated, sorted by file name; a
    prefix used by two files is an error."""
    directory = directory or sources_dir()
    pages = []
    owner: dict[str, str] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SourcesError(f"{path.name}: cannot be read ({exc.__class__.__name__})") from None
        page = parse_page(text, path.name, allow_open=allow_open)
        if page.prefix in owner:
            raise SourcesError(f"{path.name}: prefix {page.prefix!r} is already used by {owner[page.prefix]}")
        owner[page.prefix] = path.name
        pages.append(page)
    return pages


@cache
def pages() -> tuple[Page, ...]:
    """The installed sources map (strict: every statement enforced or waived)."""
    return tuple(load())


def unknown_claims(all_pages: list[Page] | tuple[Page, ...], known: Any) -> list[str]:
    """``"S-MECH-004 cites LEAF-099, which no test states"`` for each cited claim the registry lacks."""
    known = set(known)
    return [f"{s.id} ({p.file}) cites {c}, which no test states"
            for p in all_pages for s in p.statements for c in s.claims if c not in known]


def sources_of(all_pages: list[Page] | tuple[Page, ...] | None = None) -> dict[str, list[str]]:
    """The inverse index: claim ID -> the statement IDs that cite it (in file order)."""
    out: dict[str, list[str]] = defaultdict(list)
    for p in pages() if all_pages is None else all_pages:
        for s in p.statements:
            for c in s.claims:
                out[c].append(s.id)
    return dict(out)


def statements_by_id(all_pages: list[Page] | tuple[Page, ...] | None = None) -> dict[str, tuple[Page, Statement]]:
    return {s.id: (p, s) for p in (pages() if all_pages is None else all_pages) for s in p.statements}


def totals(all_pages: list[Page] | tuple[Page, ...]) -> dict[str, int]:
    out = dict.fromkeys(COVERAGE, 0)
    for p in all_pages:
        for k, v in p.counts.items():
            out[k] += v
    out["total"] = sum(out[k] for k in COVERAGE)
    return out


# --------------------------------------------------------------------------- command line

FORMATS = ("text", "json", "md")


def configure(parser) -> None:
    parser.add_argument("--format", default="text", metavar="FORMAT", help="text (default), json or md")
    parser.add_argument("--open", action="store_true",
                        help="accept statements with neither claims nor a waiver (count them as open)")


def report(all_pages: list[Page]) -> dict[str, Any]:
    return {"totals": totals(all_pages), "pages": [p.as_json() for p in all_pages]}


def _text_report(rep: dict[str, Any]) -> str:
    t = rep["totals"]
    out = [f"{t['total']} statements on {len(rep['pages'])} pages: {t['enforced']} enforced, {t['waived']} waived, "
           f"{t['open']} open"]
    width = max([len(p["title"]) for p in rep["pages"]] + [5])
    for p in rep["pages"]:
        c = p["counts"]
        out.append(f"  {p['prefix']:<8} {p['title']:<{width}}  {c['enforced']:>3} enforced  {c['waived']:>3} waived  "
                   f"{c['open']:>3} open")
    return "\n".join(out) + "\n"


def _md_report(rep: dict[str, Any]) -> str:
    from spec.render import md_text

    t = rep["totals"]
    out = [f"{t['total']} statements: {t['enforced']} enforced, {t['waived']} waived, {t['open']} open", "",
           "| page | prefix | enforced | waived | open |", "|---|---|---:|---:|---:|"]
    for p in rep["pages"]:
        c = p["counts"]
        out.append(f"| [{md_text(p['title'])}]({p['url']}) | {p['prefix']} | {c['enforced']} | {c['waived']} | "
                   f"{c['open']} |")
    return "\n".join(out) + "\n"


def run(args) -> int:
    from spec.errors import CommandError
    from spec.render import emit

    if args.format not in FORMATS:
        raise CommandError(f"unknown format {args.format!r}; known: {', '.join(FORMATS)}", code=4)
    rep = report(load(allow_open=args.open))
    emit(rep, "markdown" if args.format == "md" else args.format, _text_report, _md_report)
    return 0


__all__ = ["COVERAGE", "WAIVER_KINDS", "Page", "SourcesError", "Statement", "load", "pages", "parse_page",
           "sources_of", "statements_by_id", "totals", "unknown_claims"]
