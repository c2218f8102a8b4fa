"""Placeholder: implemented in a later step."""


def configure(parser) -> None:
    pass


def run(args) -> int:
    from spec.__main__ import CommandError

    raise CommandError("not implemented yet")
