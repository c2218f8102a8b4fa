"""Errors the command line reports in one line."""

from __future__ import annotations

from pathlib import Path


class CommandError(Exception):
    """A problem with a command's input: reported in one line, exit code ``code``."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def read_text(path: Path, where: str, expected: str, error: type[Exception]) -> str:
    """The text of a file the user named, or ``error`` in one line: ``"<where>: no such file"``, a folder where
    ``expected`` was, or why it cannot be read."""
    if not path.exists():
        raise error(f"{where}: no such file")
    if path.is_dir():
        raise error(f"{where}: is a folder, expected {expected}")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{where}: cannot be read ({exc.__class__.__name__}: {exc})") from None
