"""Errors the command line reports in one line."""


class CommandError(Exception):
    """A problem with a command's input: reported in one line, exit code ``code``."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code
