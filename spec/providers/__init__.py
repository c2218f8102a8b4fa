"""Derivative providers: the PINN operator claims run against any derivative code, not only torch's spellings.

The protocol (version :data:`PROTOCOL_VERSION`; the user's page is ``docs/providers.md``)
-----------------------------------------------------------------------------------------
A provider is an object with a ``name`` (str) and any of the operators below.  An operator it does not
offer (absent, or ``None``) makes the claims that need it n/a, with the reason.  For ``x`` of shape
``(N, d)`` with ``requires_grad=True`` and ``u = f(x)`` of shape ``(N, 1)`` computed point by point (a
field ``v = f(x)`` of shape ``(N, m)``), graph style (``style = "graph"``, the default)::

    grad(u, x)            # (N, d): du/dx at every point
    partial(u, x, i, k)   # (N, 1): the k-th derivative of u along x[:, i]
    laplacian(u, x)       # (N, 1): the trace of the Hessian
    hessian(u, x)         # (N, d, d): d2u/dx_i dx_j at [:, i, j]
    divergence(v, x)      # (N, 1): sum_i dv_i/dx_i, v of shape (N, d)
    jacobian(v, x)        # (N, m, d): dv_j/dx_k at [:, j, k]

Results keep the dtype and device of ``x`` and stay differentiable with respect to the network's
parameters (they enter the loss).  A provider that needs the function rather than its output (torch.func,
Taylor mode) declares ``style = "function"`` and takes ``f`` (a callable ``(N, d) -> (N, m)``) in place of
``u``/``v``.  Optional attributes: ``max_order`` (the highest ``k`` that ``partial`` offers; default: no
limit, orders 1 to 4 are checked), ``supports_compile`` (True, or the names of the operators that give
their values under ``torch.compile``; default False: the compiled claims are n/a), ``unavailable`` (a reason string: the provider cannot run in
this environment, every claim is n/a with it).

Selecting providers: a built-in name (:data:`BUILTINS`) or ``MODULE:OBJECT`` importable here, comma lists
allowed (``--provider autograd,func,mypkg.ops:PROVIDER``).  Adding a built-in is one module in this package
that defines ``PROVIDER`` and one entry in :data:`BUILTINS`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: The protocol's version; a change that a provider written for an older version would break raises it.
PROTOCOL_VERSION = 1
#: The operators of the protocol, in the order the docs list them.
OPERATORS: tuple[str, ...] = ("grad", "partial", "laplacian", "hessian", "divergence", "jacobian")
STYLES = ("graph", "function")
#: Built-in provider name -> ``MODULE:OBJECT``.
BUILTINS: dict[str, str] = {
    "autograd": "spec.providers.autograd:PROVIDER",
    "func": "spec.providers.func:PROVIDER",
    "jet": "spec.providers.jet:PROVIDER",
    "deepxde": "spec.providers.deepxde:PROVIDER",
    "pina": "spec.providers.pina:PROVIDER",
    "torchphysics": "spec.providers.torchphysics:PROVIDER",
}
#: The provider the default run checks: torch.autograd, the reference spelling.
DEFAULT: tuple[str, ...] = ("autograd",)


class ProviderError(ValueError):
    """An unknown provider, a module that does not import, or an object that offers none of the operators."""


def parse_selection(text: str | None) -> list[str] | None:
    """``--provider a,b`` as a list of names (``None``: the option was not given)."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ProviderError("--provider needs at least one provider: " + ", ".join(BUILTINS) + " or MODULE:OBJECT")
    return list(dict.fromkeys(names))


def load(name: str) -> Any:
    """The provider object that ``name`` (a built-in or ``MODULE:OBJECT``) names; :class:`ProviderError` in one line."""
    target = BUILTINS.get(name, name)
    if ":" not in target:
        raise ProviderError(
            f"--provider {name}: unknown provider; built-in providers: {', '.join(BUILTINS)}, or MODULE:OBJECT")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's to see, in one line
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise ProviderError(f"--provider {name}: module {module_name!r} does not import ({type(exc).__name__}: {text})") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ProviderError(f"--provider {name}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not getattr(obj, "unavailable", None) and not offered(obj):
        raise ProviderError(f"--provider {name}: {attr} offers none of the operators {', '.join(OPERATORS)}")
    style = getattr(obj, "style", "graph")
    if style not in STYLES:
        raise ProviderError(f"--provider {name}: style {style!r} is neither 'graph' nor 'function'")
    return obj


def resolve(text: str | None) -> list[tuple[str, Any]]:
    """The run's providers as ``(id, object)``: the names given (or :data:`DEFAULT`), each loaded."""
    names = parse_selection(text) or list(DEFAULT)
    return [(name, load(name)) for name in names]


def offered(provider: Any) -> list[str]:
    """The operators ``provider`` offers (callable attributes of the protocol's names)."""
    return [op for op in OPERATORS if callable(getattr(provider, op, None))]


def is_partial(names: list[str] | None) -> bool:
    """Whether a --provider selection leaves out the reference (the default run checks it)."""
    return names is not None and not set(DEFAULT) <= set(names)


def label(name: str) -> str:
    """A provider's test ID and results value: the name as given (``mypkg.ops:PROVIDER`` stays readable)."""
    return name


# ----------------------------------------------------------------------------- the claim run's option

OPTION_HELP = (
    "comma-separated derivative providers the operator claims run against: built-in " + ", ".join(BUILTINS)
    + ", or MODULE:OBJECT importable here (docs/providers.md); default: autograd, the reference spelling. "
    "An unknown provider, a module that does not import, or an object offering no operator is a usage error (exit 4)."
)


def configure(text: str | None) -> list[str] | None:
    """Parse and load ``--provider`` once, before the run (a bad provider is a usage error, not a failing test)."""
    names = parse_selection(text)
    for name in names or ():
        load(name)
    return names


def params(names: list[str] | None) -> list:
    """The ``provider`` parametrization: one test per provider, its ID the provider's name."""
    import pytest

    return [pytest.param(label(n), id=label(n)) for n in names or DEFAULT]


def header_lines(names: list[str] | None) -> list[str]:
    """The run header's line on providers (only when --provider was given)."""
    if names is None:
        return []
    out = []
    for name in names:
        p = load(name)
        why = getattr(p, "unavailable", None)
        out.append(f"{name} (unavailable: {why})" if why else f"{name} ({getattr(p, 'style', 'graph')}: {', '.join(offered(p))})")
    return ["autograd-spec providers: " + "; ".join(out)]


# ----------------------------------------------------------------------------- calling a provider in a claim


class Ops:
    """A provider as the claims call it: ``ops.laplacian(f, x)`` for both styles.

    Graph style gets ``f(x)``; function style gets ``f``.  An operator the provider does not offer, or a
    provider unavailable here, ends the claim as n/a with the reason (``spec.check.not_applicable``).
    """

    def __init__(self, name: str):
        from spec.check import not_applicable

        self.name = name
        self.provider = load(name)
        why = getattr(self.provider, "unavailable", None)
        if why:
            not_applicable(f"provider {name} is unavailable: {why}")
        self.style = getattr(self.provider, "style", "graph")

    def need(self, op: str, order: int | None = None) -> None:
        from spec.check import not_applicable

        if not callable(getattr(self.provider, op, None)):
            not_applicable(f"provider {self.name} offers no {op}")
        top = getattr(self.provider, "max_order", None)
        if order is not None and top is not None and order > top:
            not_applicable(f"provider {self.name}'s partial offers orders up to {top}, not {order}")

    def compiles(self, op: str) -> bool:
        """Whether the provider declares ``op`` under torch.compile (``supports_compile``: a bool or operator names)."""
        said = getattr(self.provider, "supports_compile", False)
        return op in said if isinstance(said, (tuple, list, set, frozenset)) else bool(said)

    def __getattr__(self, op: str):
        if op not in OPERATORS:
            raise AttributeError(op)
        self.need(op)
        fn = getattr(self.provider, op)

        def call(f, x, *args):
            return fn(f, x, *args) if self.style == "function" else fn(f(x), x, *args)

        return call
