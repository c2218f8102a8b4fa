"""Rendering helpers shared by every generated page: the Jinja environment over ``spec/templates``,
Markdown escaping, and the HTML of hand-written Markdown.

The claim book (:mod:`spec.docs`), the matrix (:mod:`spec.matrix`) and the diff (:mod:`spec.diff`)
render through this module. It imports nothing from ``spec``, so
any module can use it; jinja2 is imported only when a template needs it.
"""

from __future__ import annotations

import html
import re
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


_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\*([^*]+)\*|\[([^\]]+)\]\(([^)\s]+)\)")


def inline_html(text: str) -> str:
    """The small Markdown subset used in explanations: `code`, **bold**, *em*, [links](url)."""
    out = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos : m.start()], quote=False))
        code, bold, em, label, url = m.groups()
        if code is not None:
            out.append(f"<code>{html.escape(code, quote=False)}</code>")
        elif bold is not None:
            out.append(f"<strong>{html.escape(bold, quote=False)}</strong>")
        elif em is not None:
            out.append(f"<em>{html.escape(em, quote=False)}</em>")
        else:
            out.append(f'<a href="{html.escape(url)}">{html.escape(label, quote=False)}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def paragraphs_html(text: str) -> str:
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n".join(f"<p>{inline_html(p)}</p>" for p in paras)


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


__all__ = ["TEMPLATES", "environment", "md_code", "md_fence", "md_text", "inline_html", "paragraphs_html", "ref_label", "slug", "tidy"]
