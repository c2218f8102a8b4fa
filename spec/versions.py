"""Torch versions: which ones the suite has recorded, and version-gated expectations.

An expectation that differs between torch releases is data: a mapping from
``packaging`` specifiers to the expected value, plus the PyTorch PR or issue
that changed it.  ``by_version`` resolves it for the torch that is running.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import Version

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
    """An expected value that depends on the torch version.

    ``key`` names the observable (``"CLAIM-ID/what"``), ``values`` maps
    ``packaging`` specifier strings to the expected value, and ``ref`` cites the
    PyTorch change (PR or issue URL) behind the difference.
    """

    key: str
    values: Mapping[str, Any]
    ref: str
    note: str = ""

    def __post_init__(self) -> None:
        if "/" not in self.key:
            raise ValueError(f"version-gated key {self.key!r} must look like 'CLAIM-ID/observable'")
        if not self.values:
            raise ValueError(f"{self.key}: no versions given")
        for spec in self.values:
            SpecifierSet(spec)  # raises InvalidSpecifier on nonsense
        # Every recorded version must match exactly one branch.
        for v in RECORDED_VERSIONS:
            self.branch(v)

    @property
    def claim_id(self) -> str:
        return self.key.split("/", 1)[0]

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

    def changed_in(self) -> list[str]:
        """The recorded versions at which the expected value differs from the previous recorded version."""
        out = []
        prev = None
        for v in RECORDED_VERSIONS:
            value = self.for_version(v)
            if prev is not None and value != prev:
                out.append(v)
            prev = value
        return out

    def describe(self, version: str) -> dict[str, Any]:
        return {
            "key": self.key,
            "branch": self.branch(version),
            "expected": self.for_version(version),
            "values": dict(self.values),
            "ref": self.ref,
            "changed_in": self.changed_in(),
        }


def by_version(key: str, values: Mapping[str, Any], *, ref: str, note: str = "") -> Versioned:
    """Declare an expectation that varies with the torch version.

    >>> msg = by_version("DEMO-001/message", {"<2.4": "old text", ">=2.4": "new text"},
    ...                  ref="https://github.com/pytorch/pytorch/pull/1")
    >>> msg.for_version("2.3.1"), msg.for_version("2.15.0+cpu"), msg.changed_in()
    ('old text', 'new text', ['2.4.1'])
    """
    return Versioned(key=key, values=dict(values), ref=ref, note=note)
