"""Hypothesis profiles for the general laws (``spec/suite/test_general_laws.py``).

``ci`` (the default) is deterministic and fast: the same examples on every run, in
any test order and under ``-n 2``, no example database, no deadline (torch's first
call of an op can be slow).  ``dev`` searches harder, with fresh random examples.
Pick one with ``SPEC_HYPOTHESIS_PROFILE=dev``.

The claims' ``conftest.py`` calls :func:`load_profile`.  Importing this module (the law tests
do) also loads it when no profile was chosen yet, so the laws never run under hypothesis's
randomized ``default`` profile.  Once the conftest imports this module, hypothesis's own
``--hypothesis-profile=dev`` works too (it is applied after the conftest is imported).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

ENV = "SPEC_HYPOTHESIS_PROFILE"

#: The ``check`` fixture records every example of a law into the same test's results.
_COMMON = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=False,
)

settings.register_profile("ci", derandomize=True, max_examples=30, **_COMMON)
settings.register_profile("dev", derandomize=False, max_examples=300, **_COMMON)


def load_profile(name: str | None = None) -> None:
    """Load the named profile, else ``$SPEC_HYPOTHESIS_PROFILE``, else ``ci``."""
    settings.load_profile(name or os.environ.get(ENV) or "ci")


def _active_profile() -> str | None:
    getter = getattr(settings, "get_current_profile_name", None)  # hypothesis >= 6.117
    return getter() if getter is not None else getattr(settings, "_current_profile", None)


if _active_profile() in (None, "default"):
    load_profile()
