"""The fused kernel of the softmax family: log-softmax, gathered at the target, in one pass.

Every softmax loss in polybench (cross-entropy, Poly-1, Poly-N, focal, their variants) is, for
index targets, a function of two per-sample numbers: `log p_t` (the log-probability of the target
class) and, with label smoothing, `S = sum_c w_c log p_c`. `target_log_softmax` computes both with
one `log_softmax` over the `(N, C, ...)` logits and no one-hot; its hand-written backward turns the
per-sample gradients `g_t`, `g_s` into the `(N, C, ...)` logit gradient

    d loss / d z_c = g_t * (onehot_c - p_c) + g_s * (w_c - W * p_c),   W = sum_c w_c,

in place on a single buffer. The per-sample part of each loss (the Poly and focal terms, weights,
reduction) then runs under plain autograd on `(N, ...)` tensors, which costs next to nothing.
`tests/test_losses.py` checks this Function with `torch.autograd.gradcheck` in float64.
"""

from __future__ import annotations

import torch
from torch.autograd.function import FunctionCtx, once_differentiable

from polybench.losses._targets import per_class


class TargetLogSoftmax(torch.autograd.Function):
    """`(logits, target, valid, weight, smooth) -> (log p_t, S)`; see the module docstring.

    Shapes: logits `(N, C, d1, ...)`, target and valid `(N, d1, ...)` (target already holds a
    valid class index where `valid` is False), weight `(C,)` or None. Outputs `(N, d1, ...)` in
    `compute_dtype`, zero where `valid` is False; `S` is an empty tensor when `smooth` is False.
    """

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        logits: torch.Tensor,
        target: torch.Tensor,
        valid: torch.Tensor | None,
        weight: torch.Tensor | None,
        smooth: bool,
        compute_dtype: torch.dtype,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        log_p = torch.log_softmax(logits, dim=1, dtype=compute_dtype)
        index = target.unsqueeze(1)
        log_pt = log_p.gather(1, index).squeeze(1)
        if valid is not None:
            log_pt = log_pt.masked_fill(~valid, 0.0)
        if smooth:
            weighted = log_p if weight is None else log_p * per_class(weight, log_p)
            log_sum = weighted.sum(1)
            if valid is not None:
                log_sum = log_sum.masked_fill(~valid, 0.0)
        else:
            log_sum = log_p.new_empty(0)
            ctx.mark_non_differentiable(log_sum)
        ctx.save_for_backward(log_p, index, valid, weight)
        ctx.smooth = smooth
        ctx.logits_dtype = logits.dtype
        ctx.set_materialize_grads(False)
        return log_pt, log_sum

    @staticmethod
    @once_differentiable
    def backward(
        ctx: FunctionCtx, grad_log_pt: torch.Tensor | None, grad_log_sum: torch.Tensor | None
    ) -> tuple[torch.Tensor | None, None, None, None, None, None]:
        log_p, index, valid, weight = ctx.saved_tensors
        if grad_log_pt is None:
            grad_log_pt = log_p.new_zeros(index.shape).squeeze(1)
        if not ctx.smooth:
            grad_log_sum = None
        if valid is not None:
            grad_log_pt = grad_log_pt.masked_fill(~valid, 0.0)
            if grad_log_sum is not None:
                grad_log_sum = grad_log_sum.masked_fill(~valid, 0.0)
        # coefficient of -p_c: g_t + W * g_s
        p_coef = grad_log_pt
        if grad_log_sum is not None:
            total = log_p.shape[1] if weight is None else weight.sum()
            p_coef = grad_log_pt + grad_log_sum * total
        grad = torch.exp(log_p)
        grad.mul_(p_coef.neg().unsqueeze(1))
        grad.scatter_add_(1, index, grad_log_pt.unsqueeze(1))
        if grad_log_sum is not None:
            class_weight = 1.0 if weight is None else per_class(weight, grad)
            grad.add_(grad_log_sum.unsqueeze(1) * class_weight)
        return grad.to(ctx.logits_dtype), None, None, None, None, None


def target_log_softmax(
    logits: torch.Tensor,
    target: torch.Tensor,
    valid: torch.Tensor | None,
    weight: torch.Tensor | None,
    smooth: bool,
    compute_dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Functional entry to `TargetLogSoftmax` (autograd-aware)."""
    return TargetLogSoftmax.apply(logits, target, valid, weight, smooth, compute_dtype)
