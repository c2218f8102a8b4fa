"""The weird side, "Forward-mode AD": one dual level at a time."""

import torch

from spec import claim

NESTED = r"Nested forward mode AD is not supported at the moment"


@claim(
    "FWD-001",
    "Forward-mode dual levels do not nest: entering torch.autograd.forward_ad.dual_level() inside another raises "
    "'Nested forward mode AD is not supported at the moment'; once the outer level is left, a new one can be entered.",
    section="Forward-mode AD",
)
def test_nested_dual_levels_are_refused(check):
    # No dual tensors here: the first forward-mode op of a process costs seconds (lazy imports).
    with torch.autograd.forward_ad.dual_level():
        with check.raises("a dual_level() inside a dual_level()", RuntimeError, NESTED):
            with torch.autograd.forward_ad.dual_level():
                pass

    later = torch.autograd.forward_ad.dual_level()  # the refusal left no level behind
    check.works("entering a dual_level() after the outer one is left", later.__enter__)
    try:
        with check.raises("a dual_level() inside a later dual_level()", RuntimeError, NESTED):
            with torch.autograd.forward_ad.dual_level():
                pass
    finally:
        later.__exit__(None, None, None)
