"""Mutant providers that kill the claims of the section "Derivative operators".

Each patches the reference provider (``spec.providers.autograd``, the one a default run checks) with one
mistake that real derivative helpers make, so ``python -m tests.meta.proof`` runs them like every other
mutant: the Laplacian as the sum of all Hessian entries (NVIDIA/fsi-samples#79, wangyida/ra-neus#5), a cache
that serves stale values across steps (lululxvi/deepxde#2074), a transposed Jacobian, scaling by the batch
size, leakage between points, detached results, None for an independent u, a changed dtype, and more.
"""

import functools

from tests.meta.mutation import mutant, patch, replace

OPS = ("grad", "partial", "laplacian", "hessian", "divergence", "jacobian")


def reference():
    import spec.providers.autograd as module

    return module


def wrap_results(change, ops=OPS):
    """Every operator of the reference provider returns ``change(result, u, x, op)`` instead of its result."""
    provider = reference().PROVIDER
    for op in ops:

        def make(original, op=op):
            @functools.wraps(original)
            def call(u, x, *args):
                return change(original(u, x, *args), u, x, op)

            return call

        patch(provider, op, make)


@mutant("laplacian-sums-all-hessian-entries", kills=["OPER-004", "OPER-008", "OPER-009", "OPER-012", "OPER-014",
                                                     "OPER-015", "OPER-022"])
def _(torch):
    """The hand-written Laplacian grad(u_x, x, ones_like(u_x)) summed: every Hessian entry, not the trace."""
    A = reference()

    def laplacian(u, x):
        g = A._d(u, x)
        (h,) = torch.autograd.grad(g, x, torch.ones_like(g), create_graph=True)
        return h.sum(1, keepdim=True)

    replace(A.PROVIDER, "laplacian", laplacian)


@mutant("stale-cache-across-steps", kills=["OPER-014", "OPER-015", "OPER-016"])
def _(torch):
    """Results cached by the input tensor x (as DeepXDE's cache once was): a new u at the same x gets the old value."""
    cache = {}

    def change(out, u, x, op):
        return cache.setdefault((op, id(x)), out)

    wrap_results(change, ("grad", "laplacian"))


@mutant("jacobian-transposed", kills=["OPER-005", "OPER-009", "OPER-022"])
def _(torch):
    """jacobian(v, x) returns dv_k/dx_j at [:, j, k]: (N, d, m) instead of (N, m, d)."""
    wrap_results(lambda out, u, x, op: out.transpose(1, 2), ("jacobian",))


@mutant("batch-size-scaling", kills=["OPER-001", "OPER-002", "OPER-010"])
def _(torch):
    """Each derivative taken of u.mean() instead of u.sum(): every point's derivative is divided by the batch size."""
    A = reference()

    def make(original):
        def _d(y, x):
            return original(y, x) / x.shape[0]

        return _d

    patch(A, "_d", make)


@mutant("leakage-between-points", kills=["OPER-011"])
def _(torch):
    """Each point's result is blended with the batch mean (a reduction over the batch where none belongs)."""
    wrap_results(lambda out, u, x, op: 0.5 * out + 0.5 * out.mean(0, keepdim=True))


@mutant("detached-results", kills=["OPER-012", "OPER-013"])
def _(torch):
    """The operators return detached tensors (as if create_graph=False): the residual loss cannot train the network."""
    wrap_results(lambda out, u, x, op: out.detach())


@mutant("none-for-independent-u", kills=["OPER-017"])
def _(torch):
    """A u that does not depend on x (or an unused coordinate) gives None, as allow_unused=True does, not zeros."""
    A = reference()

    def _d(y, x):
        if not y.requires_grad:
            return None
        return torch.autograd.grad(y, x, torch.ones_like(y), create_graph=True, allow_unused=True)[0]

    replace(A, "_d", _d)


@mutant("dtype-changed", kills=["OPER-019", "OPER-001"])
def _(torch):
    """The operators return float64 whatever x's dtype (a float64 accumulator returned as is)."""
    wrap_results(lambda out, u, x, op: out.double())


@mutant("partial-stops-at-order-2", kills=["OPER-002", "OPER-007"])
def _(torch):
    """partial(u, x, i, k) for k > 2 returns the second derivative (a helper that only nests twice)."""
    A = reference()
    original = A.PROVIDER.partial
    replace(A.PROVIDER, "partial", lambda u, x, i, k: original(u, x, i, min(k, 2)))


@mutant("hessian-without-mixed-entries", kills=["OPER-003"])
def _(torch):
    """hessian(u, x) holds the pure second derivatives only (a diagonal Hessian)."""
    wrap_results(lambda out, u, x, op: torch.diag_embed(torch.diagonal(out, dim1=1, dim2=2)), ("hessian",))


@mutant("divergence-sums-the-whole-jacobian", kills=["OPER-006", "OPER-009", "OPER-022"])
def _(torch):
    """divergence(v, x) sums every dv_j/dx_k instead of the diagonal ones."""
    A = reference()
    replace(A.PROVIDER, "divergence", lambda v, x: A.jacobian(v, x).sum((1, 2)).unsqueeze(-1))


@mutant("operator-writes-x-grad", kills=["OPER-020"])
def _(torch):
    """The operators leave their first derivative in x.grad (a helper built on backward() instead of grad())."""

    def change(out, u, x, op):
        x.grad = torch.zeros_like(x) if x.grad is None else x.grad + 1
        return out

    wrap_results(change, ("laplacian", "hessian"))


@mutant("compiled-grad-doubled", kills=["OPER-021"], modes=("aot_eager",))
def _(torch):
    """Under torch.compile grad comes back doubled (a compiled path that differs from eager)."""
    compiling = getattr(getattr(torch, "compiler", None), "is_compiling", None) or torch._dynamo.is_compiling

    def change(out, u, x, op):
        return out * 2 if compiling() else out

    wrap_results(change, ("grad",))


@mutant("none-for-an-unused-coordinate", kills=["OPER-018"])
def _(torch):
    """A coordinate u does not use gives None (a provider that differentiates per coordinate column, as with
    allow_unused=True on x split into columns), not zeros."""

    def change(out, u, x, op):
        return None if op == "partial" and not bool(out.detach().ne(0).any()) else out

    wrap_results(change, ("partial",))
