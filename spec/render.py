"""Rendering helpers shared by every generated page: the Jinja environment over ``spec/templates``,
Markdown escaping, and the conversion of hand-written Markdown to HTML.

The claim book (:mod:`spec.book`), the matrix (:mod:`spec.matrix`) and the diff (:mod:`spec.diff`)
render through this module. It imports nothing from ``spec``, so
any module can use it; jinja2 and markdown-it-py are imported only when a template or a conversion
needs them.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"


# --------------------------------------------------------------------------- Markdown


def slug(text: str) -> str:
    """``"Leaves and requires_grad"`` -> ``"leaves-and-requires-grad"`` (file names, anchors)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def md_code(text: str) -> str:
    """Inline Markdown code for any text (backticks and pipes included)."""
    text = " ".join(str(text).split())
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def md_text(text: str) -> str:
    """Plain text that Markdown shows as written: ``a*a*a`` stays three a's, not an emphasis."""
    text = " ".join(str(text).split()).replace("\\", "\\\\")
    text = re.sub(r"([*`<\[\]|])", r"\\\1", text)
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)


def md_fence(code: str, lang: str = "python") -> str:
    """A fenced code block, its fence longer than any run of backticks in ``code``."""
    fence = "```"
    while fence in code:
        fence += "`"
    return f"{fence}{lang}\n{code}\n{fence}"


_GITHUB_REF = re.compile(r"^https?://github\.com/([\w.-]+/[\w.-]+)/(?:pull|issues)/(\d+)/?$")


def ref_label(ref: str) -> str:
    """``https://github.com/pytorch/pytorch/pull/92753`` -> ``pytorch/pytorch#92753``."""
    m = _GITHUB_REF.match(ref or "")
    return f"{m.group(1)}#{m.group(2)}" if m else ref


# --------------------------------------------------------------------------- Markdown to HTML


@cache
def _markdown():
    """CommonMark (markdown-it-py) without raw HTML: hand-written text is escaped, never trusted.

    Text is escaped as the book always escaped it (``&``, ``<``, ``>``; quotes stay as written), and a
    line break inside a paragraph is a space, so a paragraph is one line of HTML.
    """
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False})

    def text(self, tokens, idx, options, env) -> str:
        return html.escape(tokens[idx].content, quote=False)

    def code_inline(self, tokens, idx, options, env) -> str:
        return f"<code>{html.escape(tokens[idx].content, quote=False)}</code>"

    def softbreak(self, tokens, idx, options, env) -> str:
        return " "

    md.add_render_rule("text", text)
    md.add_render_rule("code_inline", code_inline)
    md.add_render_rule("softbreak", softbreak)
    return md


def paragraphs_html(text: str) -> str:
    """Hand-written Markdown (the explanations) as HTML: ``<p>`` per paragraph, `code`, **bold**, *em*,
    [links](url), lists; raw HTML in the text is shown, not interpreted."""
    return _markdown().render(text.strip()).rstrip("\n")


# --------------------------------------------------------------------------- templates


def environment(**globals_: Any):
    """The Jinja environment over ``spec/templates``: HTML templates autoescape, Markdown ones do not;
    ``md_code`` and ``md_text`` are filters; ``globals_`` are visible to every template."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md_code"] = md_code
    env.filters["md_text"] = md_text
    env.globals.update(globals_)
    return env


def tidy(text: str) -> str:
    """No trailing blanks, at most one empty line in a row, one final newline."""
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.rstrip("\n") + "\n"


__all__ = ["TEMPLATES", "environment", "md_code", "md_fence", "md_text", "paragraphs_html", "ref_label", "slug", "tidy"]


def emit(report: Any, fmt: str, text: Any, markdown: Any) -> None:
    """Print a command's report on stdout: as JSON, or rendered by ``markdown(report)`` or ``text(report)``."""
    import json
    import sys

    if fmt == "json":
        json.dump(report, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write((markdown if fmt == "markdown" else text)(report))
