"""The sigmoid family: RetinaNet's sigmoid focal loss and the paper's Poly-1 focal loss.

Sigmoid focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017) treats every
class as an independent binary problem, `s = sigmoid(z)`, `s_t = t s + (1 - t)(1 - s)`:
`alpha_t (1 - s_t)^gamma BCE(z, t)`. PolyLoss (Leng et al., ICLR 2022) adds
`eps * (1 - s_t)^(gamma + 1)`; the paper used eps = -1 with this loss for COCO detection
(RetinaNet), and recommends eps >= -1.

The per-sample value is the sum over classes (so `sigmoid_focal` equals
`torchvision.ops.sigmoid_focal_loss` summed over the class dimension). Targets are multi-hot
floats of the logits' shape (multi-label), or index targets that are turned into one-hot here
(with `ignore_index`). A class `weight[c]` scales class c's binary term, like the `weight` of
`binary_cross_entropy_with_logits`; `mean` averages over (non-ignored) samples.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from polybench.losses._softmax import ClassValues
from polybench.losses._targets import (
    class_vector,
    compute_dtype,
    is_soft_target,
    one_minus_power,
    per_class,
    reduce,
    split_ignored,
)


def sigmoid_focal(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float,
    alpha: float | None,
    epsilon: float = 0.0,
    weight: ClassValues,
    ignore_index: int,
    reduction: str,
    loss: str = "sigmoid_focal",
) -> torch.Tensor:
    """`sum_c w_c [alpha_t (1 - s_t)^gamma BCE(z_c, t_c) + eps (1 - s_t)^(gamma + 1)]`.

    `alpha` None (or < 0, as in torchvision) disables the alpha balancing.
    """
    soft = is_soft_target(loss, logits, target)
    dtype = compute_dtype(logits)
    z = logits.to(dtype)
    w = class_vector(loss, "weight", weight, logits.shape[1], z)
    valid = None
    if soft:
        t = target.to(dtype)
        normalizer: torch.Tensor | int = math.prod(z.shape[:1] + z.shape[2:])
    else:
        index, valid = split_ignored(target, ignore_index)
        t = torch.zeros_like(z).scatter_(1, index.unsqueeze(1), 1.0)
        normalizer = valid.sum()
    bce = F.binary_cross_entropy_with_logits(z, t, reduction="none")
    one_minus_st = t * torch.sigmoid(-z) + (1.0 - t) * torch.sigmoid(z)
    modulating = one_minus_power(one_minus_st, gamma) if gamma else None
    elementwise = bce if modulating is None else modulating * bce
    if alpha is not None and alpha >= 0:
        # alpha_t = alpha t + (1 - alpha)(1 - t), in one pass
        elementwise = elementwise * ((1.0 - alpha) + (2.0 * alpha - 1.0) * t)
    if epsilon != 0.0:
        # (1 - s_t)^(gamma + 1) = (1 - s_t)^gamma (1 - s_t)
        poly = one_minus_st if modulating is None else modulating * one_minus_st
        elementwise = elementwise + epsilon * poly
    if w is not None:
        elementwise = elementwise * per_class(w, elementwise)
    per_sample = elementwise.sum(1)
    if valid is not None:
        per_sample = per_sample.masked_fill(~valid, 0.0)
    return reduce(per_sample, reduction, normalizer, logits.dtype)
