"""Declaring claims on their tests, and the registry that collects them.

A claim is declared once, on the test that checks it::

    @claim("LEAF-001", "A tensor created by the user with requires_grad=True is a leaf.",
           section="Leaf tensors")
    def test_user_tensor_is_leaf(device, dtype, check): ...

Further tests serving the same claim name only its ID: ``@claim("LEAF-001")``.

The registry is built statically (by reading ``spec/suite`` with :mod:`ast`), so
listing claims, rendering documentation and validating ``--claim`` never import
the tests or torch.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import re
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

from spec.render import slug
from spec.versions import Versioned

ID_PATTERN = re.compile(r"^[A-Z][A-Z0-9]*(?:-[A-Z][A-Z0-9]*)*-\d{3}$")

#: Sections in reading order: the article's Part 1, the Part 2 it promises, and beyond.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("Leaf tensors", "Part 1"),
    ("Gradient retention", "Part 1"),
    ("Secrets of grad", "Part 1"),
    ("Multiple backward calls and retain_graph", "Part 1"),
    ("The create_graph argument", "Part 1"),
    ("Non-scalar outputs and grad_outputs", "Part 2"),
    ("Batched gradients", "Part 2"),
    ("Unused inputs", "Part 2"),
    ("Slicing the input", "Part 2"),
    ("Element-wise derivatives", "Part 2"),
    ("Higher-order derivatives", "Part 2"),
    ("Hessians and Hessian-vector products", "Part 2"),
    ("General laws", "Part 2"),
    ("In-place operations and views", "The weird side"),
    ("Graph construction and constants", "The weird side"),
    ("Operators without double backward", "The weird side"),
    ("Forward-mode AD", "The weird side"),
    ("Grad modes", "Chapter 3"),
    ("Non-smooth and undefined points", "Chapter 3"),
    ("Custom autograd.Function", "Chapter 3"),
    ("torch.func with torch.autograd", "Chapter 3"),
    ("Writing into inputs and views", "Chapter 3"),
    ("Forward-mode tangents", "Chapter 3"),
    ("Leaves, Parameters and conversions", "Chapter 3"),
    (".grad lifecycle and layouts", "Chapter 3"),
    ("Hooks", "Chapter 3"),
    ("Complex autograd", "Chapter 3"),
    ("Saved tensors, autograd.functional and threads", "Chapter 3"),
    ("torch.compile", "Execution modes"),
    ("torch.func transforms", "Execution modes"),
    ("Activation checkpointing", "Chapter 4"),
    ("Automatic mixed precision", "Chapter 4"),
    ("Distributed data parallel", "Chapter 4"),
    ("torch.export", "Chapter 4"),
    ("Compiled backward", "Chapter 4"),
    ("Control flow operators", "Chapter 4"),
    ("Module hooks", "Chapter 4"),
    ("gradcheck and gradgradcheck", "Chapter 4"),
    ("Optimizers and gradient utilities", "Chapter 4"),
    ("Derivative operators", "Derivative providers"),
)
SECTION_NAMES = tuple(name for name, _ in SECTIONS)
PART_OF = dict(SECTIONS)


@dataclasses.dataclass(frozen=True)
class SectionFiles:
    """Where the parts of a section's claims live, each named by the section's slug (:func:`spec.render.slug`), as
    paths from the project root.

    The claims' tests, their explanations and the claim book page install with the package; the mutants that
    prove each claim can fail live in the repository's ``tests/meta/mutants`` (see ``spec/data/mutants.json``).
    """

    slug: str
    test_module: str
    explanations: str
    mutants: str
    book_page: str

    @classmethod
    def of(cls, section: str) -> SectionFiles:
        s = slug(section)
        u = s.replace("-", "_")
        return cls(s, f"spec/suite/test_{u}.py", f"spec/explanations/{s}.md", f"tests/meta/mutants/{u}.py",
                   f"docs/book/sections/{s}.md")

CLAIM_MARKER = "claim"
DTYPES_MARKER = "spec_dtypes"
MODES_MARKER = "spec_modes"

#: What a claim states.  A *rule* is behaviour torch documents or the mathematics demands, and
#: it holds.  A *hazard* is a place where torch returns a wrong number without an error: the claim
#: states the true value and the observed one, cites the upstream issue, passes while the hazard
#: is present, and reports "hazard fixed in torch X" the day a release fixes it.
KINDS: tuple[str, ...] = ("rule", "hazard")


class ClaimError(ValueError):
    """A malformed claim declaration or an unknown claim ID."""


def _check_id(claim_id: str) -> None:
    if not isinstance(claim_id, str) or not ID_PATTERN.match(claim_id):
        raise ClaimError(f"claim ID {claim_id!r} must look like 'LEAF-001' (letters, dash, three digits)")


def claim(
    claim_id: str,
    statement: str | None = None,
    *,
    section: str | None = None,
    kind: str = "rule",
    ref: str | None = None,
    apis: tuple[str, ...] | None = None,
) -> Callable:
    """Mark a test as checking a claim; the first test of a claim also states it.

    ``kind="hazard"`` declares a hazard (see :data:`KINDS`); it needs ``ref``, the upstream
    issue, and its tests check with :meth:`spec.check.Check.hazard`.

    ``apis``, on any test, replaces the autograd APIs the registry derives from the test's code (see
    :mod:`spec.apis`), where the derivation misses or overshoots: ``apis=("torch.autograd.grad:create_graph",)``.
    """
    _check_id(claim_id)
    _check_declaration(claim_id, statement, section, kind, ref)
    _check_apis(claim_id, apis)

    def decorate(fn: Callable) -> Callable:
        import pytest

        return getattr(pytest.mark, CLAIM_MARKER)(claim_id)(fn)

    return decorate


def _check_declaration(claim_id: str, statement: str | None, section: str | None, kind: str, ref: str | None) -> None:
    if (statement is None) != (section is None):
        raise ClaimError(f"{claim_id}: give both the statement and the section, or neither")
    if section is not None and section not in SECTION_NAMES:
        raise ClaimError(f"{claim_id}: unknown section {section!r}; known: {', '.join(SECTION_NAMES)}")
    if kind not in KINDS:
        raise ClaimError(f"{claim_id}: unknown kind {kind!r}; known: {', '.join(KINDS)}")
    if statement is None and (kind != "rule" or ref is not None):
        raise ClaimError(f"{claim_id}: kind and ref belong on the test that states the claim")
    if kind == "hazard" and not ref:
        raise ClaimError(f"{claim_id}: a hazard cites its upstream issue (ref=...)")


def _check_apis(claim_id: str, apis: Any) -> None:
    from spec.apis import known

    if apis is None:
        return
    if not isinstance(apis, (tuple, list)) or not all(isinstance(a, str) for a in apis):
        raise ClaimError(f"{claim_id}: apis= takes a tuple of API names, e.g. ('torch.autograd.grad:create_graph',)")
    unknown = [a for a in apis if not known(a)]
    if unknown:
        raise ClaimError(f"{claim_id}: unknown API {unknown[0]!r} in apis= (autograd-spec scan --vocabulary lists them)")


def modes(*names: str) -> Callable:
    """The execution modes a test runs in (default: eager only); see :mod:`spec.modes`."""
    from spec.modes import MODE_NAMES

    for name in names:
        if name not in MODE_NAMES:
            raise ClaimError(f"unknown mode {name!r}; known modes: {', '.join(MODE_NAMES)}")
    import pytest

    return getattr(pytest.mark, MODES_MARKER)(*names)


def dtypes(*names: str) -> Callable:
    """The dtypes a test runs with (default: float32 and float64)."""
    from spec.precision import DTYPE_NAMES

    for name in names:
        if name not in DTYPE_NAMES:
            raise ClaimError(f"unknown dtype {name!r}; known dtypes: {', '.join(DTYPE_NAMES)}")
    import pytest

    return getattr(pytest.mark, DTYPES_MARKER)(*names)


# --------------------------------------------------------------------------- registry


@dataclasses.dataclass
class TestRef:
    module: str  # path relative to the project root
    name: str
    lineno: int
    source: str
    modes: tuple[str, ...] = ()
    #: The autograd APIs the test uses: declared with ``apis=``, else recognised in its code (:mod:`spec.apis`).
    apis: tuple[str, ...] = ()
    apis_declared: bool = False


@dataclasses.dataclass
class Claim:
    id: str
    statement: str
    section: str
    kind: str = "rule"
    ref: str | None = None
    tests: list[TestRef] = dataclasses.field(default_factory=list)
    changes: list[Versioned] = dataclasses.field(default_factory=list)  # its recorded behaviour changes

    @property
    def modes(self) -> list[str]:
        """The execution modes the claim's tests run in (eager unless a test says otherwise)."""
        from spec.modes import MODE_NAMES

        found = {m for t in self.tests for m in (t.modes or ("eager",))}
        return [m for m in MODE_NAMES if m in found]

    @property
    def apis(self) -> list[str]:
        """The autograd APIs its tests use (each test's own are ``TestRef.apis``; see :mod:`spec.apis`)."""
        return sorted({a for t in self.tests for a in t.apis})

    @property
    def part(self) -> str:
        return PART_OF[self.section]

    @property
    def files(self) -> SectionFiles:
        return SectionFiles.of(self.section)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "statement": self.statement,
            "section": self.section,
            "part": self.part,
            "kind": self.kind,
            "ref": self.ref,
            "modes": self.modes,
            "tests": [f"{t.module}::{t.name}" for t in self.tests],
            "changes": [{"key": c.key, "values": c.values, "ref": c.ref, "note": c.note} for c in self.changes],
        }


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def claims_dir() -> Path:
    return Path(__file__).resolve().parent / "suite"


def _decorator_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return None


def _literal(node: ast.AST, where: str) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError as exc:
        raise ClaimError(f"{where}: claim declarations must use literal arguments") from exc


def scan_file(path: Path, root: Path) -> tuple[list[tuple[str, str | None, str | None, dict, TestRef]], list[Versioned]]:
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    rel = path.relative_to(root).as_posix()
    decls = []
    changes = []
    aliases = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            test_modes: tuple[str, ...] = ()
            for dec in node.decorator_list:
                if _decorator_name(dec) == "modes":
                    test_modes = tuple(_literal(a, f"{rel}:{dec.lineno}") for a in dec.args)
            for dec in node.decorator_list:
                if _decorator_name(dec) != "claim":
                    continue
                where = f"{rel}:{dec.lineno}"
                args = [_literal(a, where) for a in dec.args]
                kwargs = {k.arg: _literal(k.value, where) for k in dec.keywords}
                claim_id = args[0] if args else kwargs.get("claim_id")
                statement = args[1] if len(args) > 1 else kwargs.get("statement")
                section = kwargs.get("section")
                extra = {"kind": kwargs.get("kind", "rule"), "ref": kwargs.get("ref"), "apis": kwargs.get("apis")}
                start = min([d.lineno for d in node.decorator_list] + [node.lineno])
                source = "\n".join(text.splitlines()[start - 1 : node.end_lineno])
                ref = TestRef(rel, node.name, node.lineno, source, test_modes)
                if extra["apis"] is not None:
                    ref.apis, ref.apis_declared = tuple(extra["apis"]), True
                else:
                    from spec.apis import aliases_of, recognise

                    aliases = aliases or aliases_of(tree)
                    ref.apis = tuple(sorted({use.api for use in recognise(node, aliases)}))
                decls.append((claim_id, statement, section, extra, ref))
        elif isinstance(node, ast.Call) and _decorator_name(node) == "by_version":
            where = f"{rel}:{node.lineno}"
            key = _literal(node.args[0], where)
            values = _literal(node.args[1], where)
            kw = {k.arg: _literal(k.value, where) for k in node.keywords if k.arg in ("ref", "note")}
            # Not validated here: an invalid gate fails the claim suite, and the book shows its error.
            changes.append(Versioned(key=key, values=values, ref=kw.get("ref", ""), note=kw.get("note", "")))
    return decls, changes


def build_registry(directory: Path | None = None) -> dict[str, Claim]:
    """Read every claim declaration under ``directory`` (default ``spec/suite``)."""
    directory = directory or claims_dir()
    root = project_root() if directory.resolve().is_relative_to(project_root()) else directory
    decls = []
    changes: list[Versioned] = []
    for path in sorted(directory.rglob("test_*.py")):
        d, c = scan_file(path, root)
        decls.extend(d)
        changes.extend(c)
    registry: dict[str, Claim] = {}
    stated_in: dict[str, str] = {}
    problems = []
    for claim_id, statement, section, extra, ref in decls:
        try:
            _check_declaration(claim_id, statement, section, extra["kind"], extra["ref"])
            _check_apis(claim_id, extra["apis"])
        except ClaimError as exc:
            problems.append(f"{ref.module}::{ref.name}: {exc}")
            continue
        if statement is None:
            continue
        if claim_id in registry:
            problems.append(f"{claim_id} is stated twice ({stated_in[claim_id]} and {ref.module}::{ref.name})")
            continue
        registry[claim_id] = Claim(claim_id, statement, section, kind=extra["kind"], ref=extra["ref"])
        stated_in[claim_id] = f"{ref.module}::{ref.name}"
    for claim_id, _statement, _section, _extra, ref in decls:
        if claim_id not in registry:
            problems.append(f"{ref.module}::{ref.name} names {claim_id}, which no test states")
            continue
        registry[claim_id].tests.append(ref)
    for change in changes:
        if change.claim_id not in registry:
            problems.append(f"version-gated expectation {change.key!r} names an unknown claim")
            continue
        registry[change.claim_id].changes.append(change)
    if problems:
        raise ClaimError("invalid claim declarations:\n  " + "\n  ".join(problems))
    order = {name: i for i, name in enumerate(SECTION_NAMES)}
    return dict(sorted(registry.items(), key=lambda kv: order[kv[1].section]))  # stable: declaration order


@cache
def registry() -> dict[str, Claim]:
    return build_registry()


def recorded_change(key: str, claims: dict[str, Claim] | None = None) -> Versioned:
    """The registry's recorded behaviour change ``key`` (``"CLAIM-ID/observable"``)."""
    claim_id = key.split("/", 1)[0]
    claims = claims if claims is not None else registry()
    found = [change for change in (claims[claim_id].changes if claim_id in claims else []) if change.key == key]
    if found:
        return found[0]
    raise ClaimError(f"no recorded behaviour change {key!r} (by_version(...) beside claim {claim_id})")


def resolve_ids(requested: Iterable[str], known: Iterable[str]) -> list[str]:
    """Validate claim IDs given on the command line; unknown ones name the nearest known IDs."""
    known = list(known)
    out = []
    for raw in requested:
        claim_id = raw.strip().upper()
        if not claim_id:
            continue
        if claim_id not in known:
            near = difflib.get_close_matches(claim_id, known, n=3, cutoff=0.5)
            prefix = claim_id.rsplit("-", 1)[0]
            near += [k for k in known if k.startswith(prefix + "-") and k not in near][: max(0, 3 - len(near))]
            hint = f"; nearest: {', '.join(near)}" if near else ""
            raise ClaimError(f"unknown claim ID {raw.strip()!r}{hint} (python -m spec list shows all)")
        out.append(claim_id)
    if not out:
        raise ClaimError("--claim needs at least one claim ID")
    return list(dict.fromkeys(out))
