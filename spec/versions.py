"""Torch versions: which ones the suite has recorded, and version-gated expectations.

An expectation that differs between torch releases is data: a mapping from
``packaging`` specifiers to the expected value, plus the PyTorch PR or issue
that changed it.  ``by_version`` resolves it for the torch that is running.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

#: The latest patch of every torch minor release the suite records results for.
RECORDED_VERSIONS: tuple[str, ...] = (
    "2.0.1",
    "2.1.2",
    "2.2.2",
    "2.3.1",
    "2.4.1",
    "2.5.1",
    "2.6.0",
    "2.7.1",
    "2.8.0",
    "2.9.1",
    "2.10.0",
    "2.11.0",
    "2.12.1",
    "2.13.0",
    "2.14.1",
    "2.15.0",
)


def release(version: str) -> Version:
    """The release part of a torch version: ``2.16.0.dev20261101+cu128`` -> ``2.16.0``.

    Nightlies and source builds are judged by the release they lead up to, and
    the local build tag (``+cpu``, ``+cu121``) never changes semantics.
    """
    return Version(Version(version).base_version)


def build_tag(version: str) -> str:
    """The local build tag of a torch version (``cpu``, ``cu121``), or ``""``."""
    return Version(version).local or ""


def torch_version() -> str:
    import torch

    return str(torch.__version__)


def is_recorded(version: str) -> bool:
    """Whether the suite has recorded results for exactly this torch release."""
    return release(version) in {release(v) for v in RECORDED_VERSIONS}


class VersionGateError(LookupError):
    """A version-gated expectation has no branch (or more than one) for a torch version."""


@dataclasses.dataclass(frozen=True)
class Versioned:
    """A recorded behaviour change: an expected value that depends on the torch version.

    The one concept of a version change.  ``key`` names the observable (``"CLAIM-ID/what"``),
    ``values`` maps ``packaging`` specifier strings to the expected value, ``ref`` cites the
    PyTorch change (PR or issue URL) behind the difference, and ``note`` says what is confirmed of
    it (or not).  A claim's module declares one with :func:`by_version`, which validates it; the
    registry (:func:`spec.claims.build_registry`) reads the same declarations from the source, so
    the claims, the aggregation, the book, the matrix, the diff and the sensitivity proof all see
    one object per change.  Versions are ordered as ``packaging`` versions, nowhere else.
    """

    key: str
    values: Mapping[str, Any]
    ref: str
    note: str = ""

    def validate(self) -> Versioned:
        """Raise on a malformed key, a bad specifier, or a recorded version that matches no branch or two."""
        if "/" not in self.key:
            raise ValueError(f"version-gated key {self.key!r} must look like 'CLAIM-ID/observable'")
        if not self.values:
            raise ValueError(f"{self.key}: no versions given")
        for spec in self.values:
            SpecifierSet(spec)  # raises InvalidSpecifier on nonsense
        # Every recorded version must match exactly one branch.
        for v in RECORDED_VERSIONS:
            self.branch(v)
        return self

    @functools.cached_property
    def error(self) -> str | None:
        """Why the gate is invalid (the claim suite fails on it; the book shows it), or None."""
        try:
            self.validate()
        except (VersionGateError, ValueError) as exc:  # InvalidSpecifier is a ValueError
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            return f"invalid version gate: {lines[0] if lines else type(exc).__name__}"
        return None

    @property
    def claim_id(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def observable(self) -> str:
        return self.key.split("/", 1)[1] if "/" in self.key else self.key

    def branch(self, version: str) -> str:
        rel = release(version)
        hits = [s for s in self.values if rel in SpecifierSet(s)]
        if len(hits) != 1:
            raise VersionGateError(
                f"{self.key}: torch {version} matches {len(hits)} branches of {list(self.values)}; exactly one must match"
            )
        return hits[0]

    def for_version(self, version: str) -> Any:
        return self.values[self.branch(version)]

    def current(self) -> Any:
        return self.for_version(torch_version())

    def value_at(self, version: str) -> Any:
        """The value for a version, or None where no single branch applies (an invalid gate, or not a version)."""
        try:
            return self.for_version(version)
        except (VersionGateError, InvalidVersion, InvalidSpecifier):
            return None

    @functools.cached_property
    def changed_in(self) -> list[str]:
        """The recorded versions at which the expected value differs from the previous recorded version
        (none for an invalid gate: see :attr:`error`)."""
        if self.error:
            return []
        out = []
        prev = None
        for v in RECORDED_VERSIONS:
            value = self.for_version(v)
            if prev is not None and value != prev:
                out.append(v)
            prev = value
        return out

    @property
    def between(self) -> list[str]:
        """``["2.3.1 and 2.4.1"]``: the recorded versions on either side of each change."""
        out = []
        for v in self.changed_in:
            i = RECORDED_VERSIONS.index(v)
            out.append(f"{RECORDED_VERSIONS[i - 1]} and {v}" if i else v)
        return out

    def changed_at(self, version: str) -> bool:
        """Whether the change took effect at exactly this release."""
        return str(version) in self.changed_in

    def changes_between(self, a: str, b: str) -> list[str]:
        """The recorded versions at which the change took effect after the older and up to the newer of two."""
        try:
            lo, hi = sorted((release(str(a)), release(str(b))))
        except InvalidVersion:
            return []
        return [v for v in self.changed_in if lo < Version(v) <= hi]

    def changed_between(self, a: str, b: str) -> bool:
        """Whether a change took effect after the older and up to the newer of two releases."""
        return bool(self.changes_between(a, b))

    def describe(self, version: str) -> dict[str, Any]:
        return {
            "key": self.key,
            "branch": self.branch(version),
            "expected": self.for_version(version),
            "values": dict(self.values),
            "ref": self.ref,
            "changed_in": self.changed_in,
        }


def by_version(key: str, values: Mapping[str, Any], *, ref: str, note: str = "") -> Versioned:
    """Declare an expectation that varies with the torch version (validated: see :meth:`Versioned.validate`).

    >>> msg = by_version("DEMO-001/message", {"<2.4": "old text", ">=2.4": "new text"},
    ...                  ref="https://github.com/pytorch/pytorch/pull/1")
    >>> msg.for_version("2.3.1"), msg.for_version("2.15.0+cpu"), msg.changed_in
    ('old text', 'new text', ['2.4.1'])
    """
    return Versioned(key=key, values=dict(values), ref=ref, note=note).validate()
