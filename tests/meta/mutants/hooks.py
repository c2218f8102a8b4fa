"""Mutants that kill the claims of the section "Hooks": each changes one behaviour a claim states."""

import collections
import functools
import inspect
import threading

from tests.meta.mutation import mutant, wrap_function, wrap_grad, wrap_property


@mutant("hook-return-value-is-ignored", kills=["HOOK-001"])
def _(torch):
    """register_hook calls the hook but ignores the gradient it returns."""

    def make(orig):
        def register_hook(self, hook):
            return orig(self, lambda g: (hook(g), None)[1])

        return register_hook

    wrap_function(torch.Tensor, "register_hook", make)


@mutant("hook-on-constant-is-accepted", kills=["HOOK-002"])
def _(torch):
    """register_hook on a tensor that does not require grad returns a handle instead of raising."""

    def make(orig):
        def register_hook(self, hook):
            if not self.requires_grad:
                return torch.utils.hooks.RemovableHandle({})
            return orig(self, hook)

        return register_hook

    wrap_function(torch.Tensor, "register_hook", make)


@mutant("tensor-hooks-skipped-by-autograd-grad", kills=["HOOK-003"])
def _(torch):
    """Tensor hooks do not fire while torch.autograd.grad runs."""
    state = threading.local()
    original_grad = torch.autograd.grad

    def grad(*args, **kwargs):
        state.inside = True
        try:
            return original_grad(*args, **kwargs)
        finally:
            state.inside = False

    def make(orig):
        def register_hook(self, hook):
            return orig(self, lambda g: None if getattr(state, "inside", False) else hook(g))

        return register_hook

    torch.autograd.grad = grad
    wrap_function(torch.Tensor, "register_hook", make)


@mutant("retain-grad-is-a-hook-in-registration-order", kills=["HOOK-004"])
def _(torch):
    """retain_grad() keeps the gradient as a tensor hook registered at that moment, so hooks registered later do
    not change the retained .grad."""
    captured = {}
    register_hook = torch.Tensor.register_hook

    def make(orig):
        def retain_grad(self):
            orig(self)
            if self.grad_fn is not None:
                key = id(self)
                register_hook(self, lambda g: captured.__setitem__(key, g.detach().clone()))

        return retain_grad

    wrap_function(torch.Tensor, "retain_grad", make)
    wrap_property(torch, "grad", lambda self, value: captured.get(id(self), value) if self.grad_fn is not None else value)


@mutant("tensor-hooks-fire-once", kills=["HOOK-005"])
def _(torch):
    """A tensor hook fires only for the first gradient computed for its tensor (not at higher orders)."""

    def make(orig):
        def register_hook(self, hook):
            fired = []

            def once(g):
                if fired:
                    return None
                fired.append(True)
                return hook(g)

            return orig(self, once)

        return register_hook

    wrap_function(torch.Tensor, "register_hook", make)


@mutant("post-accumulate-hook-under-grad-mode", kills=["HOOK-006"])
def _(torch):
    """Post-accumulate-grad hooks run with grad mode on."""
    if not hasattr(torch.Tensor, "register_post_accumulate_grad_hook"):
        return

    def make(orig):
        def register(self, hook):
            def run(p):
                with torch.enable_grad():
                    return hook(p)

            return orig(self, run)

        return register

    wrap_function(torch.Tensor, "register_post_accumulate_grad_hook", make)


@mutant("multi-grad-hook-gets-gradients-reversed", kills=["HOOK-007"])
def _(torch):
    """register_multi_grad_hook hands the hook the gradients in reverse order."""
    graph = torch.autograd.graph
    original = graph.register_multi_grad_hook

    def register_multi_grad_hook(tensors, fn, **kwargs):
        if kwargs.get("mode", "all") == "any":
            return original(tensors, fn, **kwargs)
        return original(tensors, lambda grads: fn(tuple(reversed(grads))), **kwargs)

    graph.register_multi_grad_hook = register_multi_grad_hook


@mutant("hooks-follow-the-tensor-after-inplace", kills=["HOOK-008"])
def _(torch):
    """A hook registered before an in-place change moves to the tensor's new grad_fn (fires with the new gradient)."""
    holders = {}
    original_register = torch.Tensor.register_hook

    def register_hook(self, hook):
        holder = {"hook": hook, "moved": False}
        holders.setdefault(id(self), []).append(holder)
        return original_register(self, lambda g: None if holder["moved"] else holder["hook"](g))

    def make(orig):
        def mul_(self, other):
            out = orig(self, other)
            for holder in holders.pop(id(self), []):
                holder["moved"] = True
                original_register(self, holder["hook"])
            return out

        return mul_

    torch.Tensor.register_hook = register_hook
    wrap_function(torch.Tensor, "mul_", make)


@mutant("hooks-run-in-reverse-registration-order", kills=["HOOK-009"])
def _(torch):
    """Hooks on a tensor run in reverse order: each new hook is applied before those registered earlier."""
    registry = {}

    def make(orig):
        def register_hook(self, hook):
            chain = registry.setdefault(id(self), [])
            chain.insert(0, hook)
            if len(chain) == 1:
                def run(g, chain=chain):
                    for h in list(chain):
                        out = h(g)
                        g = g if out is None else out
                    return g

                return orig(self, run)
            return torch.utils.hooks.RemovableHandle(collections.OrderedDict())

        return register_hook

    wrap_function(torch.Tensor, "register_hook", make)


def _proxy_grad_fn(torch, **overrides):
    """Make Tensor.grad_fn return a proxy of the Node whose methods in ``overrides`` are replaced."""
    base = torch._C.TensorBase if hasattr(torch._C, "TensorBase") else torch._C._TensorBase
    original = inspect.getattr_static(base, "grad_fn")

    class Proxy:
        def __init__(self, node):
            self._node = node

        def __getattr__(self, name):
            if name in overrides:
                return functools.partial(overrides[name], self._node)
            return getattr(self._node, name)

    def grad_fn(self):
        node = original.__get__(self)
        return None if node is None else Proxy(node)

    torch.Tensor.grad_fn = property(grad_fn)


@mutant("node-prehook-return-ignored", kills=["HOOK-010"])
def _(torch):
    """A Node pre-hook's returned grad_outputs are ignored."""
    _proxy_grad_fn(torch, register_prehook=lambda node, hook: node.register_prehook(lambda go: (hook(go), None)[1]))


@mutant("node-name-drops-the-version-suffix", kills=["HOOK-011"])
def _(torch):
    """Node.name() drops the trailing version number (SinBackward instead of SinBackward0)."""
    _proxy_grad_fn(torch, name=lambda node: node.name().rstrip("0123456789"))


@mutant("gradient-edge-follows-the-tensor", kills=["HOOK-012"])
def _(torch):
    """A GradientEdge given to autograd.grad as an input stands for its tensor's current value (its grad_fn after an
    in-place change), not for the value the tensor had when the edge was taken."""
    graph = torch.autograd.graph
    if not hasattr(graph, "get_gradient_edge"):
        return
    tensors = {}
    original_get = graph.get_gradient_edge

    def get_gradient_edge(t):
        edge = original_get(t)
        tensors[id(edge)] = (edge, t)
        return edge

    graph.get_gradient_edge = get_gradient_edge

    def transform(original, a):
        inputs = a["inputs"]
        single = isinstance(inputs, graph.GradientEdge) or isinstance(inputs, torch.Tensor)
        items = [inputs] if single else list(inputs)
        items = [tensors[id(i)][1] if id(i) in tensors and tensors[id(i)][0] is i else i for i in items]
        a["inputs"] = items[0] if single else items
        return original(**a)

    wrap_grad(torch, transform)


@mutant("gradient-edge-output-seeded-twice", kills=["HOOK-013"])
def _(torch):
    """autograd.grad seeds a GradientEdge output with twice its grad_outputs."""
    graph = torch.autograd.graph
    if not hasattr(graph, "GradientEdge"):
        return

    def transform(original, a):
        if isinstance(a["outputs"], graph.GradientEdge) and isinstance(a["grad_outputs"], torch.Tensor):
            a["grad_outputs"] = a["grad_outputs"] * 2
        return original(**a)

    wrap_grad(torch, transform)
