"""Machinery for the sensitivity proof: mutants of torch behaviour, and the one way they patch torch.

A *mutant* is a function that patches torch (``torch.Tensor``, ``torch.autograd``,
``torch.func`` ...) so that one documented behaviour changes.  It declares the
claims it must kill.  The proof (:mod:`tests.meta.proof`, run by
``tests/meta/test_sensitivity.py``) runs those claims with the mutant applied and
demands that every declared claim fails through a *recorded* check.

Mutants are registered in the modules of :mod:`tests.meta.mutants`, one per section of the spec named by the
section's slug (``tests/meta/mutants/leaf_tensors.py`` for "Leaf tensors"), with::

    @mutant("backward-ignores-create-graph", kills=["CG-001"])
    def _(torch):
        ...patch...

``modes=("eager", "aot_eager")`` (or ``modes="all"``) runs the mutant's claims in those
execution modes instead of the run's default ones (see :mod:`spec.modes`).

Each mutant runs in a throwaway process, so it never has to undo its patch.  Every patch goes
through :func:`patch` (``owner.<name> = make(original)``); the other helpers are spellings of it.

``python -m tests.meta.mutation --index spec/data/mutants.json`` writes the index of mutants
(name, doc, the claims each kills) that the claim book renders.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import inspect
import json
import os
import pkgutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class Mutant:
    name: str
    kills: tuple[str, ...]
    apply: Callable
    doc: str
    #: Execution modes to run the claims in; None: the run's default modes.
    modes: tuple[str, ...] | None = None
    #: The module that registers it (``tests.meta.mutants.leaf_tensors``).
    module: str = ""


class MutantError(RuntimeError):
    """A mutant that cannot be registered, loaded or applied."""


MUTANTS: dict[str, Mutant] = {}
#: Names the mutant that the generated ``sitecustomize`` applies in every interpreter started below a run.
ENV = "SPEC_MUTANT"
#: The module that registers it (so a child interpreter imports only that one).
ENV_MODULE = "SPEC_MUTANT_MODULE"
#: A file where a child interpreter that failed to apply the mutant appends its traceback.
ENV_ERRORS = "SPEC_MUTANT_ERRORS"
#: Exit status of a child interpreter whose mutant failed to apply.
APPLY_FAILED = 97


def _modes(name: str, modes: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if modes is None:
        return None
    names = (modes,) if isinstance(modes, str) else tuple(modes)
    from spec.modes import MODE_NAMES

    unknown = [m for m in names if m not in MODE_NAMES and m != "all"]
    if unknown or not names or ("all" in names and len(names) > 1):
        raise MutantError(f"mutant {name!r}: modes must be 'all' or names from {', '.join(MODE_NAMES)}, not {modes!r}")
    return names


def mutant(name: str, *, kills: list[str], modes: str | Sequence[str] | None = None) -> Callable:
    """Register ``fn(torch)`` as the mutant ``name`` that must make each claim in ``kills`` fail."""

    def register(fn: Callable) -> Callable:
        if name in MUTANTS:
            raise MutantError(f"mutant {name!r} registered twice ({MUTANTS[name].module} and {fn.__module__})")
        if not kills:
            # kills made of version conditions (mutants.common.when) may all be off on this release: the mutant kills
            # nothing here and is not run; on every release at once (the index) it must name some claim.
            if os.environ.get("SPEC_MUTANTS_ALL_RELEASES"):
                raise MutantError(f"mutant {name!r} must name the claims it kills")
            return fn
        MUTANTS[name] = Mutant(name, tuple(kills), fn, inspect.cleandoc(fn.__doc__ or ""), _modes(name, modes), fn.__module__)
        return fn

    return register


#: The package of the mutants modules; ``common`` in it holds shared helpers and registers no mutant.
PACKAGE = "tests.meta.mutants"
SHARED = ("common",)


def module_names() -> list[str]:
    """The mutants modules (one per section), as short names (``leaf_tensors``)."""
    here = Path(__file__).parent / "mutants"
    return sorted(info.name for info in pkgutil.iter_modules([str(here)]) if info.name not in SHARED)


#: Mutants modules loaded from a file path (``load_all(["/tmp/x.py"])``), by module name.
FILES: dict[str, str] = {}


def _import(spec: str) -> str:
    """Import a mutants module named ``leaf_tensors``, ``tests.meta.mutants.leaf_tensors`` or given as a ``.py`` path."""
    if spec.endswith(".py"):
        path = str(Path(spec).resolve())
        name = next((n for n, p in FILES.items() if p == path), None)
        if name is None:
            name = f"tests.meta._file_{len(FILES)}_{Path(path).stem}"
            loader = importlib.util.spec_from_file_location(name, path)
            if loader is None or loader.loader is None:
                raise ImportError(f"{path} is not a Python file")
            module = importlib.util.module_from_spec(loader)
            sys.modules[name] = module
            try:
                loader.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
            FILES[name] = path
        return name
    name = spec if spec.startswith(PACKAGE + ".") else f"{PACKAGE}.{spec}"
    if name.rpartition(".")[2] not in module_names():
        raise ImportError(f"no mutants module {spec!r}; known: {', '.join(module_names())}")
    importlib.import_module(name)
    return name


def load_all(modules: Sequence[str] | None = None) -> dict[str, Mutant]:
    """Import the mutants modules (all, or the named ones) and return their mutants by name."""
    wanted = list(modules) if modules is not None else module_names()
    full = []
    for spec in wanted:
        try:
            full.append(_import(spec))
        except Exception as exc:
            raise MutantError(f"the mutants module {spec} cannot be imported: {type(exc).__name__}: {exc}") from exc
    if modules is None:
        return dict(MUTANTS)
    return {k: m for k, m in MUTANTS.items() if m.module in full}


def source_of(m: Mutant) -> str:
    """What :func:`load_all` takes to load ``m`` again in another interpreter."""
    return FILES.get(m.module, m.module)


def apply(m: Mutant, torch_module: Any = None) -> None:
    """Apply ``m`` to torch in this process; a patch that raises is a :class:`MutantError` of the proof."""
    if torch_module is None:
        import torch as torch_module
    try:
        m.apply(torch_module)
    except Exception as exc:
        raise MutantError(f"mutant {m.name!r} failed to apply: {type(exc).__name__}: {exc}") from exc


def apply_from_env() -> None:
    """Called from the generated ``sitecustomize``: apply the mutant named in ``$SPEC_MUTANT``."""
    name = os.environ.get(ENV)
    if not name:
        return
    module = os.environ.get(ENV_MODULE)
    mutants = load_all([module] if module else None)
    if name not in mutants:
        raise MutantError(f"no mutant named {name!r}" + (f" in {module}" if module else ""))
    apply(mutants[name])


#: Written to ``sitecustomize.py`` in a folder put first on ``PYTHONPATH``: every interpreter started
#: below a mutated run (``spec.isolated.run``) applies the mutant too.  A mutant that fails to apply
#: there ends that interpreter with its traceback (and records it for the proof) instead of letting
#: ``site`` print "Error in sitecustomize" and run the claim on unpatched torch.
SITECUSTOMIZE = """
import os, sys
if os.environ.get({env!r}):
    sys.path.insert(0, {root!r})
    try:
        from tests.meta.mutation import apply_from_env
        apply_from_env()
    except BaseException:
        import traceback
        _text = ("autograd-spec: mutant " + os.environ[{env!r}] + " failed to apply in a child interpreter ("
                 + " ".join(sys.argv)[:200] + "):\\n" + traceback.format_exc())
        sys.stderr.write(_text)
        sys.stderr.flush()
        if os.environ.get({errors!r}):
            with open(os.environ[{errors!r}], "a") as _f:
                _f.write(_text + "\\n")
        os._exit({code})
"""


def sitecustomize(root: str | Path) -> str:
    return SITECUSTOMIZE.format(root=str(root), env=ENV, errors=ENV_ERRORS, code=APPLY_FAILED)


# ---------------------------------------------------------------- the index the claim book renders


def index(mutants: dict[str, Mutant] | None = None) -> dict:
    """``{"mutants": [{"name", "doc", "kills", "module"}]}``, sorted by name; ``module`` is the file that registers it."""
    mutants = load_all() if mutants is None else mutants
    root = Path(__file__).resolve().parents[2]
    return {"mutants": [{"name": m.name, "doc": m.doc, "kills": list(m.kills), "module": _module_path(m.module, root)}
                        for _, m in sorted(mutants.items())]}


def _module_path(module: str, root: Path) -> str:
    path = Path(FILES[module]) if module in FILES else root.joinpath(*module.split(".")).with_suffix(".py")
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()


def index_text(mutants: dict[str, Mutant] | None = None) -> str:
    return json.dumps(index(mutants), indent=2, ensure_ascii=False) + "\n"


INDEX_PATH = Path(__file__).resolve().parents[2] / "spec" / "data" / "mutants.json"


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.meta.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", metavar="PATH", help=f"write the mutants index (default path: {INDEX_PATH})")
    args = parser.parse_args(argv)
    if not args.index:
        parser.print_usage()
        return 2
    path = Path(args.index)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Some mutants kill a claim only on the releases where it verifies the mutated value; the index (what the
    # claim book shows) lists what each mutant kills on some release, whatever torch writes it.
    os.environ["SPEC_MUTANTS_ALL_RELEASES"] = "1"
    text = index_text()
    path.write_text(text, encoding="utf-8")
    print(f"wrote {len(json.loads(text)['mutants'])} mutants to {path}")
    return 0


# ---------------------------------------------------------------- the one patch primitive


def patch(owner: Any, name: str, make: Callable[[Any], Any]) -> Any:
    """Replace ``owner.<name>`` with ``make(original)`` and return the replacement.

    ``original`` is the attribute as stored (``inspect.getattr_static``): a function for a function
    or a method, the descriptor for a property such as ``Tensor.grad`` (whichever class of torch's
    defines it: ``torch._C.TensorBase`` from 2.3, ``torch._C._TensorBase`` before).
    """
    try:
        original = inspect.getattr_static(owner, name)
    except AttributeError:
        raise MutantError(f"{getattr(owner, '__name__', owner)!s} has no attribute {name!r} to patch") from None
    replacement = make(original)
    setattr(owner, name, replacement)
    return replacement


def replace(owner: Any, name: str, value: Any) -> Any:
    """Replace ``owner.<name>`` with ``value`` (the original must exist)."""
    return patch(owner, name, lambda _original: value)


def wrap_function(owner: Any, name: str, make: Callable) -> Any:
    """Replace ``owner.<name>`` with ``make(original)``."""
    return patch(owner, name, make)


def wrap_call(owner: Any, name: str, transform: Callable[[Callable, dict], Any]) -> Any:
    """Replace ``owner.<name>`` with a function whose call returns ``transform(original, arguments)``.

    ``arguments`` holds every parameter by name, defaults filled in (``original(**arguments)`` is
    the unchanged call); ``arguments.given`` is the set of names the caller passed.
    """

    def make(original):
        sig = inspect.signature(original)

        @functools.wraps(original)
        def call(*args, **kwargs):
            bound = sig.bind(*args, **kwargs)
            given = frozenset(bound.arguments)
            bound.apply_defaults()
            return transform(original, Arguments(bound.arguments, given=given))

        return call

    return patch(owner, name, make)


class Arguments(dict):
    """A call's arguments by name; ``given`` names those the caller passed (the rest are defaults)."""

    def __init__(self, values, *, given: frozenset = frozenset()):
        super().__init__(values)
        self.given = given


def wrap_grad(torch, transform: Callable[[Callable, dict], Any]) -> Any:
    """Replace ``torch.autograd.grad`` by ``transform(original, arguments)`` (see :func:`wrap_call`)."""
    return wrap_call(torch.autograd, "grad", transform)


def wrap_backward(torch, transform: Callable[[Callable, dict], Any]) -> Any:
    """Replace ``torch.autograd.backward`` (which ``Tensor.backward`` calls) by ``transform(original, arguments)``."""
    return wrap_call(torch.autograd, "backward", transform)


def patch_getter(torch, name: str, make: Callable[[Callable], Callable], doc: str | None = None) -> Any:
    """Replace the property ``torch.Tensor.<name>`` with one whose getter is ``make(original_getter)``.

    Setting and deleting go to the original property; ``doc`` replaces its documentation.
    """

    def make_property(base):
        def get(tensor):
            return base.__get__(tensor, type(tensor))

        fset = (lambda tensor, value: base.__set__(tensor, value)) if hasattr(base, "__set__") else None
        fdel = (lambda tensor: base.__delete__(tensor)) if hasattr(base, "__delete__") else None
        return property(make(get), fset, fdel, doc=doc or base.__doc__)

    return patch(torch.Tensor, name, make_property)


def wrap_property(torch, name: str, getter: Callable, doc: str | None = None) -> Any:
    """Replace ``torch.Tensor.<name>`` with a property whose getter is ``getter(self, original_value)``."""
    return patch_getter(torch, name, lambda get: lambda tensor: getter(tensor, get(tensor)), doc=doc)


def rewrite_backward(torch, rewrite: Callable, *, quiet: bool = False) -> Any:
    """Replace ``torch.Tensor.backward`` with one whose arguments pass through ``rewrite``.

    ``rewrite(gradient, retain_graph, create_graph, inputs)`` returns the four arguments the
    real ``backward`` gets.  ``quiet=True`` silences the warnings the rewritten call emits.
    """
    import warnings

    def transform(original, a):
        gradient, retain, create, inputs = rewrite(a["gradient"], a["retain_graph"], a["create_graph"], a["inputs"])
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore")
            return original(a["self"], gradient, retain, create, inputs)

    return wrap_call(torch.Tensor, "backward", transform)


def rewrite_grad(torch, rewrite: Callable[[dict], dict]) -> Any:
    """Replace ``torch.autograd.grad`` with one whose arguments pass through ``rewrite``.

    ``rewrite(arguments)`` gets every argument by name (``outputs``, ``inputs``, ``grad_outputs``,
    ``retain_graph``, ``create_graph`` ...) and returns the keywords the real ``grad`` gets.
    """
    return wrap_grad(torch, lambda original, a: original(**rewrite(a)))


# ---------------------------------------------------------------- other helpers for mutants


def leaves_of(tensor) -> list:
    """The leaf tensors that a backward() from ``tensor`` accumulates into.

    It keeps every visited node object alive until the walk ends: torch 2.0 makes a new Python wrapper per access,
    so an ``id()`` of a dropped wrapper could come back for another node.
    """
    keep, nodes, seen, leaves, stack = [], set(), set(), [], [tensor.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in nodes:
            continue
        keep.append(fn)  # alive until the walk ends, so no other node can get its id
        nodes.add(id(fn))
        var = getattr(fn, "variable", None)
        if var is not None and id(var) not in seen:
            seen.add(id(var))
            leaves.append(var)
        stack.extend(next_fn for next_fn, _ in fn.next_functions)
    return leaves


def torch_release(torch) -> tuple[int, int]:
    """(major, minor) of the running torch, for mutants that must flip a behaviour that changed."""
    from packaging.version import Version

    return Version(Version(torch.__version__).base_version).release[:2]


def once_differentiable(torch, fn: Callable, error: Callable[[], BaseException]) -> Callable:
    """``fn(x, *rest)`` with a correct first derivative in ``x`` (with a graph) whose second derivative raises.

    Only ``x`` gets a gradient; the other arguments are treated as constants.  It builds a function;
    install it with :func:`patch`.
    """

    class Second(torch.autograd.Function):
        @staticmethod
        def forward(ctx, g, x, *rest):
            with torch.enable_grad():
                a = x.detach().requires_grad_()
                (gx,) = torch.autograd.grad(fn(a, *rest), a, g)
            return gx

        @staticmethod
        def backward(ctx, *grads):
            raise error()

    class First(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, *rest):
            ctx.save_for_backward(x)
            ctx.rest = rest
            return fn(x, *rest)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return (Second.apply(g, x, *ctx.rest),) + (None,) * len(ctx.rest)

    return First.apply


if __name__ == "__main__":
    # Run as a script this module is ``__main__``; the mutants register with ``tests.meta.mutation``.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.meta import mutation as _registered

    sys.exit(_registered.main())
