"""Small helpers the claims share (kept tiny, so each test still reads like the article)."""

import torch

#: Stable fragments of torch messages that several claims match.
SECOND_TIME = r"(?s)Trying to backward through the graph a second time.*retain_graph=True"
NO_GRAD_FN = r"element 0 of tensors does not require grad and does not have a grad_fn"
NON_LEAF_GRAD = r"(?s)\.grad attribute of a Tensor that is not a leaf Tensor is being accessed.*\.retain_grad\(\)"
REFERENCE_CYCLE = r"(?s)backward\(\) with create_graph=True will create a reference cycle.*autograd\.grad"


def scalar(value, form, **kwargs):
    """``torch.tensor(value)`` in the 0-dim form, ``torch.tensor([value])`` in the 1-element form."""
    return torch.tensor(value if form == "0-dim" else [value], **kwargs)
