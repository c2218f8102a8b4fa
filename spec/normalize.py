"""Observations that mean something: recorded messages and tracebacks without the form of one machine.

A recorded message or traceback carries, beside what torch says, the form of the run that recorded it: the absolute
paths of the virtual environment, the checkout and the interpreter (a user who publishes results from CI would publish
their home directory and runner layout), the frames of the interpreter, pytest and pluggy that led to the test (which
differ between ``python -m pytest`` and ``autograd-spec run``), the line numbers of those frames, and the ``^^^`` and
``~~~`` lines that Python 3.11+ draws under a frame.  Two runs of one torch on two machines then "differ", and an
upgrade diff cries wolf.

:func:`normalize` keeps the meaning and drops the form:

- a traceback frame is kept when it is the user's code (the claims in ``spec/suite``, or any file outside an
  installed package, the standard library and ``<frozen ...>``), as ``File "spec/suite/test_x.py", in f`` with its
  code line and without its line number; each run of other frames becomes one ``...`` line;
- an absolute path elsewhere in a text keeps only what does not depend on the machine: ``<site-packages>/torch/...``,
  ``<stdlib>/...``, ``spec/...``, or ``<path>/NAME`` for any other file;
- lines of only ``^`` and ``~`` (Python's decoration under a frame) go;
- ``0x7f...`` addresses become ``0x…``.

It is applied when an observation is recorded and again when results are read (an idempotent function), so results
written before it, and the committed ones, compare in the same form.  It never touches a verdict: every check has
already compared the raw value when the observation is recorded.
"""

from __future__ import annotations

import re
from typing import Any

#: A frame line of a Python traceback (the anomaly-mode traceback indents by two spaces, dynamo's "from user code"
#: by three).
_FRAME = re.compile(r'^(?P<indent>\s*)File "(?P<path>[^"]+)", line \d+, in (?P<func>.+)$')
_FRAME_DONE = re.compile(r'^(?P<indent>\s*)File "(?P<path>[^"]+)", in (?P<func>.+)$')
_DECORATION = re.compile(r"^\s*[\^~]+\s*$")
#: An absolute POSIX path (or a Windows one) not inside a URL.
_PATH = re.compile(r"(?<![\w.:/<>-])(?:/|[A-Za-z]:[\\/])(?:[\w.+@-]+[\\/])+[\w.+@-]+")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
_PACKAGES = re.compile(r"[\\/](?:site|dist)-packages[\\/]")
_STDLIB = re.compile(r"[\\/]lib[\\/](?:python\d+(?:\.\d+)?t?|Python\d+)[\\/]")
_SPEC = re.compile(r"[\\/](spec[\\/](?:suite|explanations|templates)?[\\/]?[\w./\\-]*)$")
DROPPED = "..."


def normalize_path(path: str) -> str:
    """An absolute path without the machine: ``<site-packages>/torch/x.py``, ``<stdlib>/x.py``, ``spec/suite/x.py``."""
    if path.startswith("<") or not (path.startswith("/") or re.match(r"[A-Za-z]:[\\/]", path)):
        return path
    if m := _PACKAGES.search(path):
        return "<site-packages>/" + path[m.end():].replace("\\", "/")
    if m := _STDLIB.search(path):
        return "<stdlib>/" + path[m.end():].replace("\\", "/")
    if m := _SPEC.search(path):
        return m.group(1).replace("\\", "/")
    return "<path>/" + re.split(r"[\\/]", path)[-1]


def _users_frame(path: str) -> bool:
    """Whether a (normalized) frame is the user's code rather than the interpreter's, pytest's or torch's."""
    return not path.startswith("<")


def normalize_text(text: str) -> str:
    if not isinstance(text, str) or not text:
        return text
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        frame = _FRAME.match(line) or _FRAME_DONE.match(line)
        if frame is None:
            if not _DECORATION.match(line):
                out.append(_ADDRESS.sub("0x…", _PATH.sub(lambda m: normalize_path(m.group(0)), line)))
            i += 1
            continue
        indent = frame.group("indent")
        path = normalize_path(frame.group("path"))
        body = []
        i += 1
        while i < len(lines) and lines[i].startswith(indent + " ") and not (_FRAME.match(lines[i]) or _FRAME_DONE.match(lines[i])):
            if not _DECORATION.match(lines[i]):
                body.append(lines[i])
            i += 1
        if _users_frame(path):
            out.append(f'{indent}File "{path}", in {frame.group("func")}')
            out.extend(body)
        elif not out or out[-1] != indent + DROPPED:
            out.append(indent + DROPPED)
    return "\n".join(out)


def normalize(value: Any) -> Any:
    """Every string inside a recorded value (strings, lists, dicts), normalized; other values unchanged."""
    if isinstance(value, str):
        return normalize_text(value)
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    return value


def normalize_row(row: dict[str, Any]) -> dict[str, Any]:
    """A results row with its observed values, message and reason normalized (a new dict; the input is unchanged)."""
    out = dict(row)
    for key in ("message", "reason"):
        if isinstance(out.get(key), str):
            out[key] = normalize_text(out[key])
    if isinstance(out.get("observations"), list):
        out["observations"] = [
            {**o, "observed": normalize(o.get("observed"))} if isinstance(o, dict) and "observed" in o else o
            for o in out["observations"]
        ]
    return out


#: The header fields that can hold a path of the machine (the command line's arguments, a warning's file).
HEADER_FIELDS = ("selection", "import_warnings", "devices", "modes")


def normalize_document(doc: dict[str, Any]) -> dict[str, Any]:
    """A results document with every row and the header fields of :data:`HEADER_FIELDS` normalized, in place."""
    doc["tests"] = [normalize_row(r) for r in doc.get("tests") or []]
    for key in HEADER_FIELDS:
        if key in doc:
            doc[key] = normalize(doc[key])
    return doc


__all__ = ["normalize", "normalize_document", "normalize_path", "normalize_row", "normalize_text"]
