"""``autograd-spec repro ID``: one claim as a standalone Python script, ready to paste into an upstream bug report.

The script imports torch and the standard library only.  It holds a header comment (the claim, its section, the
upstream issue of a hazard, the torch release its expectations were resolved for, how to run it), a small
``Check`` class with the semantics of :mod:`spec.check` (from :mod:`spec.repro.runtime`, only the checks the claim
calls), the definitions the claim's tests need (copied from the test module and from ``spec/suite/support.py`` and
``pinn.py``: :mod:`spec.repro.source`), the tests without their decorators, and a ``main()`` that calls each test
once per case of the given device, dtype and mode (the tests' own ``pytest.mark.parametrize`` values, the ``form``
fixture, and for the ``@given`` laws the examples hypothesis draws here).  Each check prints its name, expected,
observed and ok; the script exits 0 where the claim holds (for a hazard: its wrong value is still there, as
recorded), 1 where it does not, 5 where nothing was verified (every case n/a or skipped).
"""

from __future__ import annotations

import ast
import functools
import pprint
import textwrap
from pathlib import Path

from spec.claims import Claim, claims_dir, registry, resolve_ids
from spec.errors import CommandError
from spec.repro.source import Closure, Source, Unsupported, _call_name, _dotted

#: Fixtures a script provides: the axes (device, dtype, mode), ``form`` and ``check`` / ``warn_always``.
FIXTURES = ("device", "dtype", "form", "check", "mode", "warn_always")
FORMS = ("0-dim", "1-element")
#: Decorators of a test that say nothing the script needs.
IGNORED_DECORATORS = ("claim", "prefetch")
RUNTIME = Path(__file__).resolve().parent / "runtime.py"


def configure(parser) -> None:
    parser.add_argument("claim", metavar="ID", help="a claim ID, e.g. LEAF-004 (autograd-spec list shows all)")
    parser.add_argument("--device", default="cpu", help="the device the script runs on (cpu, cuda, mps; default cpu)")
    parser.add_argument("--dtype", default=None,
                        help="the dtype (float32, float64, float16, bfloat16; default: the claim's first dtype)")
    parser.add_argument("--mode", default=None,
                        help="the execution mode (eager, func, aot_eager, inductor; default eager, or the claim's "
                        "first mode where no test of it runs eagerly)")
    parser.add_argument("--torch", metavar="VERSION", default=None,
                        help="resolve version-gated expectations for this torch release (default: the installed torch)")
    parser.add_argument("-o", "--output", metavar="PATH", default=None, help="write the script to PATH, not stdout")


def run(args) -> int:
    text = generate(args.claim, device=args.device, dtype=args.dtype, mode=args.mode, torch_version=args.torch)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


def installed_torch() -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None


# ---------------------------------------------------------------------------------------------- what to run


class TestPlan:
    """One test of the claim and how the script calls it."""

    def __init__(self, source: Source, node: ast.FunctionDef):
        self.source, self.node = source, node
        self.args = [a.arg for a in node.args.args]
        self.dtypes: list[str] | None = None  # None: the test has no dtype axis
        self.modes = ["eager"]
        self.parametrize: list[tuple[list[str], ast.expr]] = []
        self.given: ast.Call | None = None
        for dec in node.decorator_list:
            name = _call_name(dec) if isinstance(dec, ast.Call) else None
            if name == "dtypes":
                self.dtypes = [ast.literal_eval(a) for a in dec.args]
            elif name == "modes":
                self.modes = [ast.literal_eval(a) for a in dec.args]
            elif name == "parametrize" and (_dotted(dec.func) or [])[:2] == ["pytest", "mark"]:
                if any(k.arg == "indirect" for k in dec.keywords):
                    raise Unsupported(f"{node.name}: indirect parametrization")
                names = ast.literal_eval(dec.args[0])
                names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
                values = dec.args[1] if len(dec.args) > 1 else next(k.value for k in dec.keywords if k.arg == "argvalues")
                self.parametrize.append((names, values))
            elif name == "given":
                self.given = dec
            elif name not in IGNORED_DECORATORS:
                raise Unsupported(f"{node.name}: decorator {ast.unparse(dec)!r}")
        if "dtype" in self.args and self.dtypes is None:
            from spec.precision import DEFAULT_DTYPES

            self.dtypes = list(DEFAULT_DTYPES)
        if "dtype" not in self.args:
            self.dtypes = None
        if "mode" not in self.args:
            self.modes = ["eager"]
        given = {k.arg for k in self.given.keywords} if self.given else set()
        unknown = [a for a in self.args if a not in FIXTURES and a not in given
                   and not any(a in names for names, _ in self.parametrize)]
        if unknown:
            raise Unsupported(f"{node.name}: fixtures {', '.join(unknown)}")

    def runs(self, dtype: str, mode: str) -> bool:
        return (self.dtypes is None or dtype in self.dtypes) and mode in self.modes


@functools.cache
def _sources() -> dict[str, Source]:
    """The suite's modules, parsed once per process (a closure reads them, never changes them)."""
    return {f"spec.suite.{p.stem}": Source(f"spec.suite.{p.stem}", p) for p in sorted(claims_dir().glob("*.py"))}


def _autouse(source: Source) -> list[ast.FunctionDef]:
    found = []
    for node in source.tree.body:
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                if (isinstance(dec, ast.Call) and (_dotted(dec.func) or [])[-1:] == ["fixture"]
                        and any(k.arg == "autouse" and getattr(k.value, "value", False) for k in dec.keywords)):
                    if not any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in ast.walk(node)):
                        raise Unsupported(f"{source.name}: autouse fixture {node.name} does not yield")
                    found.append(node)
    return found


def draw_examples(source: Source, plan: TestPlan) -> list[dict]:
    """The examples hypothesis draws for the test's ``@given`` strategies here (profile ci: derandomized)."""
    import importlib

    from hypothesis import given, settings

    from spec.suite import hypothesis_profiles  # noqa: F401  (registers the profiles)

    module = importlib.import_module(source.name)
    strategies = {k.arg: eval(compile(ast.Expression(k.value), source.name, "eval"), vars(module))  # noqa: S307
                  for k in plan.given.keywords}
    seen: list[dict] = []

    @settings(settings.get_profile("ci"))
    @given(**strategies)
    def record(**example):
        if example not in seen:
            seen.append(example)

    record()
    for example in seen:
        for value in example.values():
            try:
                same = ast.literal_eval(repr(value)) == value
            except (ValueError, SyntaxError):
                same = False
            if not same:
                raise Unsupported(f"{plan.node.name}: a drawn example is no Python literal ({value!r})")
    return seen


# ---------------------------------------------------------------------------------------------- the script


def generate(claim_id: str, *, device: str = "cpu", dtype: str | None = None, mode: str | None = None,
             torch_version: str | None = None) -> str:
    """The repro script of one claim for one device, dtype and mode (see the module docstring)."""
    from spec.claims import ClaimError
    from spec.devices import KNOWN_DEVICES
    from spec.modes import MODE_NAMES
    from spec.precision import DTYPE_NAMES

    known = registry()
    try:
        (claim_id,) = resolve_ids([claim_id], known)
    except ClaimError as exc:
        raise CommandError(str(exc), code=4) from None
    for value, names, what in ((device, KNOWN_DEVICES, "device"), (mode, MODE_NAMES, "mode"),
                               (dtype, DTYPE_NAMES, "dtype")):
        if value is not None and value not in names:
            raise CommandError(f"unknown {what} {value!r}; known {what}s: {', '.join(names)}", code=4)
    version = torch_version or installed_torch()
    if version is None:
        raise CommandError("torch is not installed here: name the release to resolve the expectations for, "
                           "e.g. --torch 2.15.0", code=4)
    claim = known[claim_id]
    try:
        return _generate(claim, device, dtype, mode, version)
    except Unsupported as exc:
        raise CommandError(f"{claim_id}: not supported by repro yet: {exc}", code=4) from None


def _generate(claim: Claim, device: str, dtype: str | None, mode: str, version: str) -> str:
    sources = _sources()
    runtime = Source("spec.repro.runtime", RUNTIME)
    plans = []
    for ref in claim.tests:
        source = sources[f"spec.suite.{Path(ref.module).stem}"]
        node = next(n for n in source.tree.body if isinstance(n, ast.FunctionDef) and n.name == ref.name)
        plans.append(TestPlan(source, node))
    if mode is None:
        mode = "eager" if any("eager" in p.modes for p in plans) else plans[0].modes[0]
    if dtype is None:
        dtype = next((p.dtypes[0] for p in plans if p.dtypes and mode in p.modes), "float32")
    chosen = [p for p in plans if p.runs(dtype, mode)]
    if not chosen:
        axes = "; ".join(f"{p.node.name}: dtypes {', '.join(p.dtypes or ['any'])}, modes {', '.join(p.modes)}"
                         for p in plans)
        raise CommandError(f"{claim.id}: no test runs with dtype {dtype} in mode {mode} ({axes})", code=4)

    closure = Closure(sources, runtime, version)
    closure.need_runtime("Repro")
    closure.imports |= {("sys", None, "sys"), ("torch", None, "torch")}
    calls = []
    for plan in chosen:
        fixtures = _autouse(plan.source)
        for fixture in fixtures:
            closure.add_function(plan.source, fixture, replace_decorators="@contextlib.contextmanager\n")
        if fixtures:
            closure.imports.add(("contextlib", None, "contextlib"))
        closure.add_function(plan.source, plan.node)
        loops = [(names, closure.add_expression(plan.source, values)) for names, values in plan.parametrize]
        examples = draw_examples(plan.source, plan) if plan.given else None
        calls.append((plan, [f.name for f in fixtures], loops, examples))
    closure.choose_methods()
    clashes = {n: m for n, m in closure.bound_names().items() if len(m) > 1}
    if clashes:
        raise Unsupported("names defined twice: " + ", ".join(f"{n} ({', '.join(m)})" for n, m in clashes.items()))
    if closure.pinn_attrs:
        closure.imports.add(("types", None, "types"))

    out = [_header(claim, device, dtype, mode, version, chosen, plans, closure), _imports(closure)]
    order = [runtime.name, "spec.suite.support", "spec.suite.pinn", *(n for n in sources if n not in (
        "spec.suite.support", "spec.suite.pinn"))]
    current = None
    for unit in closure.ordered_units(order):
        if unit.source.name != current:
            current = unit.source.name
            out.append(_banner(unit.source, current == runtime.name))
        if unit.source is runtime and unit.node is runtime.defs["TOLERANCES"]:
            out.append(_tolerances())
        elif unit.source is runtime and unit.node in (runtime.defs["HELD"], runtime.defs["NOT_HELD"]):
            out.append(_outcome_group(unit.node is runtime.defs["HELD"]))
        else:
            out.append(unit.text())
    text = "\n\n\n".join(_with_pinn(out, closure))
    text += "\n\n\n" + _main(claim, device, dtype, mode, version, calls) + "\n"
    try:
        compile(text, "repro.py", "exec")
    except SyntaxError as exc:  # pragma: no cover - a bug of the generator
        raise Unsupported(f"the generated script does not compile: {exc}") from None
    return text


def _with_pinn(parts: list[str], closure: Closure) -> list[str]:
    if not closure.pinn_attrs:
        return parts
    names = ", ".join(f"{n}={n}" for n in sorted(closure.pinn_attrs))
    namespace = f"#: spec/suite/pinn.py's helpers, as the tests call them (pinn.NAME).\npinn = types.SimpleNamespace({names})"
    # after the last definition copied from pinn.py
    last = max(i for i, p in enumerate(parts) if p.startswith("# ---") and "pinn.py" in p)
    end = next((i for i in range(last + 1, len(parts)) if parts[i].startswith("# ---")), len(parts))
    return [*parts[:end], namespace, *parts[end:]]


def _banner(source: Source, runtime: bool) -> str:
    if runtime:
        return ("# " + "-" * 98 + "\n# The checks: autograd-spec's spec/check.py, standalone (only what this claim uses). Each "
                "check prints\n# its name, expected, observed and ok; a check that fails ends its case, as in the suite.")
    rel = source.path.relative_to(claims_dir().parent.parent).as_posix()
    return "# " + "-" * 98 + f"\n# From {rel}"


def _tolerances() -> str:
    from spec.precision import TOLERANCES

    items = ", ".join(f"{name!r}: ({t.rtol!r}, {t.atol!r})" for name, t in TOLERANCES.items())
    return f"#: spec/precision.py: (rtol, atol) per dtype, for the checks that are not exact.\nTOLERANCES = {{{items}}}"


def _outcome_group(held: bool) -> str:
    from spec.outcomes import HELD, NOT_HELD

    name, group = ("HELD", HELD) if held else ("NOT_HELD", NOT_HELD)
    return f"#: spec/outcomes.py: the outcomes of a case that {'hold' if held else 'do not hold'}.\n{name} = {sorted(group)!r}"


def _imports(closure: Closure) -> str:
    lines = sorted((m.split(".")[0] == "torch", attr is not None, m, attr or "",
                    f"import {m}" + (f" as {as_}" if as_ != m else "") if attr is None
                    else f"from {m} import {attr}" + (f" as {as_}" if as_ != attr else ""))
                   for m, attr, as_ in closure.imports)
    std = [line[-1] for line in lines if not line[0]]
    tor = [line[-1] for line in lines if line[0]]
    return "\n".join(std) + ("\n\n" if std and tor else "") + "\n".join(tor)


def _header(claim: Claim, device, dtype, mode, version, chosen, plans, closure: Closure) -> str:
    wrap = textwrap.TextWrapper(width=110, initial_indent="#   ", subsequent_indent="#   ")
    lines = [
        "#!/usr/bin/env python3",
        f"# autograd-spec claim {claim.id} ({claim.kind}), section {claim.section!r} ({claim.part}):",
        *wrap.wrap(claim.statement),
    ]
    if claim.ref:
        lines.append(f"# {'Upstream issue' if claim.kind == 'hazard' else 'Source'}: {claim.ref}")
    lines.append(f"# Cases: device {device}, dtype {dtype}, mode {mode}; the tests (from spec/suite, decorators left out):")
    for p in plans:
        axes = f"dtypes {', '.join(p.dtypes)}; " if p.dtypes else ""
        lines.append(f"#   {Path(p.source.path).name}::{p.node.name}  ({axes}modes {', '.join(p.modes)}"
                     + (")" if p in chosen else "; not run with these)"))
    lines.append(f"# Expectations resolved for torch {version}" + (":" if closure.versions else "."))
    for key, branch, ref in dict.fromkeys(closure.versions):
        lines.append(f"#   {key}: branch {branch!r} ({ref})")
    lines += [
        "# Needs torch and the Python standard library only. Run it with:  python repro.py   or   python - < repro.py",
        "# Exit status: 0 the claim holds" + (" (the hazard's wrong value is still there, as recorded)"
                                             if claim.kind == "hazard" else "")
        + ", 1 it does not, 5 nothing was verified.",
        f"# Generated by `autograd-spec repro {claim.id}"
        + "".join(f" --{k} {v}" for k, v in (("device", device), ("dtype", dtype), ("mode", mode))
                  if v != {"device": "cpu", "mode": "eager"}.get(k))
        + "` (https://github.com/autograd-spec/autograd-spec).",
    ]
    return "\n".join(lines)


def _main(claim: Claim, device, dtype, mode, version, calls) -> str:
    body = [f"repro = Repro({claim.id!r}, {claim.kind!r}, {claim.statement!r}, {version!r})"]
    for plan, fixtures, loops, examples in calls:
        depth, lines = 0, []
        axes = []
        if "form" in plan.args and not any("form" in names for names, _ in loops):
            lines.append(f"for form in {FORMS!r}:")
            depth += 1
            axes.append("form=form")
        for names, text in reversed(loops):
            lines.append("    " * depth + f"for {', '.join(names)} in {text}:")
            depth += 1
            axes += [f"{n}={n}" for n in names]
        if examples is not None:
            lines.append("    " * depth + f"for example in EXAMPLES[{plan.node.name!r}]:")
            depth += 1
            axes.append("**example")
        fixed = {"device": repr(device), "dtype": f"torch.{dtype}", "mode": repr(mode)}
        axes += [f"{k}={v}" for k, v in fixed.items() if k in plan.args]
        fx = f", fixtures=[{', '.join(fixtures)}]" if fixtures else ""
        lines.append("    " * depth + f"repro.case({plan.node.name}{fx}, {', '.join(axes)})")
        body += lines
    parts = []
    drawn = {plan.node.name: ex for plan, _, _, ex in calls if ex is not None}
    if drawn:
        parts.append("#: The examples hypothesis drew for the @given tests (profile ci: derandomized), as literals.\n"
                     "EXAMPLES = " + pprint.pformat(drawn, width=110, sort_dicts=False))
    parts.append("def main():\n" + "\n".join("    " + b for b in body) + "\n    return repro.finish()")
    parts.append('if __name__ == "__main__":\n    sys.exit(main())')
    return "\n\n\n".join(parts)
