"""Reading the suite for a repro script: the definitions a claim's tests need, as a closure over names (with ast).

Starting from a test function's body, every name it reads is resolved where the test module binds it: a
definition of the module (a constant, a helper, a class), an import of the standard library or torch, a helper
of ``spec/suite/support.py`` or ``pinn.py``, or a piece of the framework (``tolerating``, ``isolated``,
``spec.modes.compiled`` ...) that :mod:`spec.repro.runtime` stands in for; each definition found is read in turn.
Definitions are copied as their source text (comments kept), with a few rewrites made at their exact positions:
``by_version(...)`` becomes the value of the branch that applies to the torch the script is written for (a comment
keeps the key and the reference), ``spec.check.X`` / ``spec.modes.X`` / ``pytest.skip`` become the runtime's names,
and a test's decorators are left out.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import sys
from pathlib import Path

from packaging.specifiers import SpecifierSet

from spec.versions import release


class Unsupported(Exception):
    """The claim uses something a standalone script cannot (yet) reproduce."""


#: What the framework's names become in a script: (module, name) -> a top-level name of spec/repro/runtime.py.
FRAMEWORK = {
    ("spec.check", "tolerating"): "tolerating",
    ("spec.check", "message_text"): "message_text",
    ("spec.check", "not_applicable"): "not_applicable",
    ("spec.check", "Outcome"): "Outcome",
    ("spec.torch_import", "has_numpy"): "has_numpy",
    ("spec", "isolated"): "isolated",
    ("spec.isolated", "run"): "isolated.run",
    ("spec.modes", "compiled"): "compiled",
    ("pytest", "skip"): "skip",
}
#: The runtime's names whose values a script gets written in from the framework (see spec.repro).
GENERATED = ("TOLERANCES", "HELD", "NOT_HELD")
#: Names a test module imports for its decorators only (they are left out of the script).
DECORATOR_ONLY = {("spec", "claim"), ("spec", "dtypes"), ("spec.claims", "modes"), ("spec.claims", "claim"),
                  ("spec.claims", "dtypes"), ("spec", "by_version"), ("spec.versions", "by_version")}
#: The suite's helper modules whose definitions a script copies.
HELPERS = ("spec.suite.support", "spec.suite.pinn")


@dataclasses.dataclass(frozen=True)
class Binding:
    """How a module binds a name: ``import module`` (attr None) or ``from module import attr``."""

    module: str
    attr: str | None
    asname: str


class Source:
    """One module's text and its top-level bindings."""

    def __init__(self, name: str, path: Path):
        self.name = name
        self.path = path
        self.text = path.read_text(encoding="utf-8")
        self.raw = self.text.encode("utf-8")
        self.tree = ast.parse(self.text, filename=str(path))
        self.line_starts = [0]
        for line in self.raw.splitlines(keepends=True):
            self.line_starts.append(self.line_starts[-1] + len(line))
        self.defs: dict[str, ast.stmt] = {}
        self.imports: dict[str, Binding] = {}
        self.versioned: set[str] = set()  # module-level names bound to by_version(...)
        for node in self.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.defs[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for n in ast.walk(target):
                        if isinstance(n, ast.Name):
                            self.defs[n.id] = node
                            if isinstance(node.value, ast.Call) and _call_name(node.value) == "by_version":
                                self.versioned.add(n.id)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    bound = a.asname or a.name.split(".")[0]
                    self.imports[bound] = Binding(a.name if a.asname else bound, None, bound)
            elif isinstance(node, ast.ImportFrom):
                for a in node.names:
                    self.imports[a.asname or a.name] = Binding(node.module or "", a.name, a.asname or a.name)

    def offset(self, lineno: int, col: int) -> int:
        return self.line_starts[lineno - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset)

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.raw[start:end].decode("utf-8")

    def line_indent(self, lineno: int) -> str:
        line = self.raw[self.line_starts[lineno - 1] : self.line_starts[lineno]].decode("utf-8")
        return line[: len(line) - len(line.lstrip())]

    def comments_above(self, lineno: int) -> int:
        """The first line of the comment block right above ``lineno`` (``lineno`` itself when there is none)."""
        lines = self.text.splitlines()
        first = lineno
        while first > 1 and lines[first - 2].lstrip().startswith("#"):
            first -= 1
        return first


def _call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def choose_branch(values: ast.Dict, version: str, key: str) -> tuple[str, ast.expr]:
    """The specifier and the value node of the ``by_version`` branch that ``version`` falls into."""
    rel = release(version)
    hits = []
    for k, v in zip(values.keys, values.values):
        spec = ast.literal_eval(k)
        if rel in SpecifierSet(spec):
            hits.append((spec, v))
    if len(hits) != 1:
        raise Unsupported(f"{key}: torch {version} matches {len(hits)} branches; exactly one must match")
    return hits[0]


@dataclasses.dataclass
class Unit:
    """A top-level statement to copy, with its rewrites: (start, end, replacement) byte spans of the source."""

    source: Source
    node: ast.stmt
    start: int
    edits: list[tuple[int, int, str]] = dataclasses.field(default_factory=list)
    methods: list[ast.stmt] | None = None  # a class copied with only these methods (the runtime's Check)

    @property
    def order(self) -> tuple[int, int]:
        return (self.node.lineno, self.node.col_offset)

    def text(self) -> str:
        src = self.source
        end = src.offset(self.node.end_lineno, self.node.end_col_offset)
        if self.methods is None:
            return _apply(src.raw, self.start, end, self.edits)
        body = self.node.body
        head_end = src.line_starts[body[0].end_lineno] if isinstance(body[0], ast.Expr) else src.line_starts[body[0].lineno - 1]
        parts = [_apply(src.raw, self.start, head_end, []).rstrip("\n")]
        for m in self.methods:
            first = m.decorator_list[0].lineno if m.decorator_list else m.lineno
            parts.append("\n" + _apply(src.raw, src.line_starts[first - 1], src.offset(m.end_lineno, m.end_col_offset),
                                       self.edits))
        return "\n".join(parts)


def _apply(raw: bytes, start: int, end: int, edits: list[tuple[int, int, str]]) -> str:
    out, at = [], start
    for a, b, text in sorted(e for e in edits if start <= e[0] and e[1] <= end):
        out.append(raw[at:a].decode("utf-8"))
        out.append(text)
        at = b
    out.append(raw[at:end].decode("utf-8"))
    return "".join(out)


class Closure:
    """The definitions that the roots (test functions, expressions) need, gathered across the suite's modules."""

    def __init__(self, sources: dict[str, Source], runtime: Source, torch_version: str):
        self.sources = sources
        self.runtime = runtime
        self.torch_version = torch_version
        self.units: dict[tuple[str, int], Unit] = {}
        self.imports: set[tuple[str, str | None, str]] = set()
        self.pinn_attrs: set[str] = set()
        self.attrs: set[str] = set()
        self.versions: list[tuple[str, str, str]] = []  # (key, branch, ref) of each by_version resolved
        self._pending: list[tuple[Source, str]] = []

    # ------------------------------------------------------------------ roots
    def add_function(self, source: Source, node: ast.FunctionDef, *, replace_decorators: str | None = None) -> Unit:
        """A test (decorators left out) or an autouse fixture (its decorators replaced by ``replace_decorators``)."""
        start = source.line_starts[node.lineno - 1]
        unit = Unit(source, node, start)
        if replace_decorators is not None and node.decorator_list:
            first = source.line_starts[node.decorator_list[0].lineno - 1]
            unit.start = first
            unit.edits.append((first, start, replace_decorators))
        self.units[(source.name, id(node))] = unit
        self._scan(source, unit, [*node.args.defaults, *node.args.kw_defaults, *node.body])
        self._drain()
        return unit

    def add_expression(self, source: Source, node: ast.expr) -> str:
        """An expression copied into the script's main (a parametrize's values): its text, its names resolved."""
        start, end = source.span(node)
        unit = Unit(source, ast.Expr(node, lineno=node.lineno, col_offset=node.col_offset), start)
        self._scan(source, unit, [node])
        self._drain()
        return _apply(source.raw, start, end, unit.edits)

    def need_runtime(self, name: str) -> None:
        self._pending.append((self.runtime, name))
        self._drain()

    # ------------------------------------------------------------------ resolution
    def _drain(self) -> None:
        while self._pending:
            source, name = self._pending.pop()
            self._resolve(source, name)

    def _resolve(self, source: Source, name: str) -> None:
        if name in source.defs:
            node = source.defs[name]
            if (source.name, id(node)) in self.units:
                return
            first = node.decorator_list[0].lineno if getattr(node, "decorator_list", None) else node.lineno
            unit = Unit(source, node, source.line_starts[source.comments_above(first) - 1])
            self.units[(source.name, id(node))] = unit
            if source is self.runtime and name == "Check":
                unit.methods = []  # chosen at the end, from the checks the copied code calls
                return
            if source is self.runtime and name in GENERATED:
                return  # written from spec.precision and spec.outcomes (spec.repro)
            self._scan(source, unit, [node])
            return
        binding = source.imports.get(name)
        if binding is None:
            return  # a builtin, or a local name of a function
        module, attr = binding.module, binding.attr
        if attr is None:
            if module == "spec" or module.startswith(("spec.", "pytest", "hypothesis")):
                raise Unsupported(f"{source.name} uses the module {module!r} itself")
            self._import(module, None, name)
        elif module in HELPERS:
            if binding.asname != attr:
                raise Unsupported(f"{source.name} imports {module}.{attr} as {binding.asname}")
            self._pending.append((self.sources[module], attr))
        elif (module, attr) == ("spec.suite", "pinn"):
            pass  # pinn.X: the attributes are resolved where they are read
        elif (module, attr) in FRAMEWORK:
            self._pending.append((self.runtime, FRAMEWORK[(module, attr)].split(".")[0]))
        elif (module, attr) in DECORATOR_ONLY:
            raise Unsupported(f"{source.name} calls {attr}() outside a decorator")
        elif module == "spec" or module.startswith(("spec.", "pytest", "hypothesis")):
            raise Unsupported(f"{source.name} needs {module}.{attr}, which a standalone script has no stand-in for")
        else:
            self._import(module, attr, name)

    def _import(self, module: str, attr: str | None, asname: str, *, check_only: bool = False) -> None:
        root = module.split(".")[0]
        if root != "torch" and root not in sys.stdlib_module_names:
            raise Unsupported(f"needs {module!r}, which is neither torch nor the standard library")
        if not check_only:
            self.imports.add((module, attr, asname))

    def _scan(self, source: Source, unit: Unit, nodes: list[ast.AST]) -> None:
        """Queue every name that ``nodes`` read, and record the rewrites of by_version and the framework."""
        stack = list(nodes)
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Call) and _call_name(node) == "by_version" and isinstance(node.func, ast.Name):
                stack.append(self._by_version(source, unit, node))
                continue
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "current"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in source.versioned
                    and not node.args):
                unit.edits.append((*source.span(node), node.func.value.id))
                self._pending.append((source, node.func.value.id))
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self._local_import(source, unit, node)
                continue
            if isinstance(node, ast.Attribute):
                if not (isinstance(node.value, ast.Name) and node.value.id in source.imports):
                    self.attrs.add(node.attr)  # a method of an object (check.tensor), not of a module (torch.tensor)
                dotted = _dotted(node)
                if dotted and self._framework_attribute(source, unit, node, dotted):
                    continue
            if isinstance(node, ast.Name):
                if node.id in builtins.__dict__ and node.id not in source.defs and node.id not in source.imports:
                    continue
                if isinstance(node.ctx, ast.Load):
                    self._pending.append((source, node.id))
                continue
            stack.extend(ast.iter_child_nodes(node))

    def _local_import(self, source: Source, unit: Unit, node: ast.Import | ast.ImportFrom) -> None:
        """An import inside a function: the standard library's and torch's stay; the suite's become the script's own
        definitions (the statement becomes a comment)."""
        module = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
        if isinstance(node, ast.Import) or not (module == "spec" or module.startswith("spec.")):
            for a in node.names:
                self._import(a.name if isinstance(node, ast.Import) else module, None, a.asname or a.name,
                             check_only=True)
            return
        for a in node.names:
            if a.asname not in (None, a.name):
                raise Unsupported(f"{source.name} imports {module}.{a.name} as {a.asname}")
            if (module, a.name) in FRAMEWORK:
                self._pending.append((self.runtime, FRAMEWORK[(module, a.name)].split(".")[0]))
            elif module in HELPERS:
                self._pending.append((self.sources[module], a.name))
            else:
                raise Unsupported(f"{source.name} imports {module}.{a.name}, which a standalone script has no stand-in for")
        names = ", ".join(a.name for a in node.names)
        unit.edits.append((*source.span(node), f"# from {module} import {names}: the script defines it above"))

    def _framework_attribute(self, source: Source, unit: Unit, node: ast.Attribute, dotted: list[str]) -> bool:
        """Rewrite ``spec.check.tolerating``, ``spec.modes.compiled``, ``pytest.skip``; note ``pinn.X``. True if handled."""
        root = source.imports.get(dotted[0])
        if root is None or dotted[0] in source.defs:
            return False
        if root.attr is None and root.module == dotted[0] and len(dotted) >= 2:
            # import spec.check / import pytest: the full dotted path names the thing
            for cut in range(len(dotted) - 1, 0, -1):
                key = (".".join(dotted[:cut]), dotted[cut])
                if key in FRAMEWORK and cut == len(dotted) - 1:
                    unit.edits.append((*source.span(node), FRAMEWORK[key]))
                    self._pending.append((self.runtime, FRAMEWORK[key].split(".")[0]))
                    return True
            if dotted[0] in ("spec", "pytest"):
                raise Unsupported(f"{source.name} uses {'.'.join(dotted)}, which a standalone script has no stand-in for")
            return False
        if (root.module, root.attr) == ("spec.suite", "pinn") and len(dotted) == 2:
            self.pinn_attrs.add(dotted[1])
            self._pending.append((self.sources["spec.suite.pinn"], dotted[1]))
            return True
        return False

    def _by_version(self, source: Source, unit: Unit, node: ast.Call) -> ast.expr:
        """Replace the call with the value of the branch for this torch; return the value's node (to scan)."""
        key = ast.literal_eval(node.args[0])
        values = node.args[1] if len(node.args) > 1 else next(k.value for k in node.keywords if k.arg == "values")
        if not isinstance(values, ast.Dict):
            raise Unsupported(f"{key}: by_version values must be a dict literal")
        branch, value = choose_branch(values, self.torch_version, key)
        ref = next((ast.literal_eval(k.value) for k in node.keywords if k.arg == "ref"), "")
        indent = source.line_indent(node.lineno)
        text = (f"(\n{indent}    {source.segment(value)}  # by_version {key!r}: torch {self.torch_version} is in "
                f"{branch!r}; {ref}\n{indent})")
        unit.edits.append((*source.span(node), text))
        self.versions.append((key, branch, ref))
        return value

    # ------------------------------------------------------------------ the Check class
    def choose_methods(self) -> None:
        """Keep of the runtime's Check the methods the copied code calls, and those they call."""
        check = self.units.get((self.runtime.name, id(self.runtime.defs["Check"])))
        if check is None:
            return
        methods = {m.name: m for m in check.node.body if isinstance(m, ast.FunctionDef)}
        wanted = {"__init__", "_report"} | (self.attrs & set(methods))
        todo = list(wanted)
        while todo:
            for n in ast.walk(methods[todo.pop()]):
                if (isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self"
                        and n.attr in methods and n.attr not in wanted):
                    wanted.add(n.attr)
                    todo.append(n.attr)
        check.methods = [m for m in methods.values() if m.name in wanted]
        self._scan(self.runtime, check, check.methods)
        self._drain()

    # ------------------------------------------------------------------ output
    def ordered_units(self, order: list[str]) -> list[Unit]:
        rank = {name: i for i, name in enumerate(order)}
        return sorted(self.units.values(), key=lambda u: (rank[u.source.name], u.order))

    def bound_names(self) -> dict[str, list[str]]:
        """Each top-level name the copied units bind, with the modules that bind it (a clash has two)."""
        seen: dict[str, list[str]] = {}
        for unit in self.units.values():
            node = unit.node
            names = [node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else [
                n.id for t in (node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)])
                if t is not None for n in ast.walk(t) if isinstance(n, ast.Name)]
            for name in names:
                seen.setdefault(name, []).append(unit.source.name)
        return seen
