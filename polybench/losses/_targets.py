"""Shared input handling: dtype policy, target kinds, shapes and reductions.

Logits are `(N, C)` or `(N, C, d1, d2, ...)` exactly as `F.cross_entropy` takes them. A target is
either an index tensor `(N, d1, ...)` of integer class ids (with `ignore_index`) or a float tensor
of the logits' shape (one-hot, soft or, for the sigmoid family, multi-hot). Losses are computed in
float32 (float64 stays float64) and returned in the logits' dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

REDUCTIONS = ("none", "mean", "sum")


def compute_dtype(logits: torch.Tensor) -> torch.dtype:
    """float64 stays float64 (gradcheck); every other float dtype is computed in float32."""
    return torch.float64 if logits.dtype == torch.float64 else torch.float32


def is_soft_target(loss: str, logits: torch.Tensor, target: torch.Tensor) -> bool:
    """True for float targets shaped like the logits, False for index targets.

    Raises:
        ValueError: naming the loss and both shapes when the pair fits neither form.
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise ValueError(f"Loss '{loss}': logits must be a float tensor, got {_describe(logits)}.")
    if logits.dim() < 2:
        raise ValueError(
            f"Loss '{loss}': logits must have shape (N, C) or (N, C, d1, ...), "
            f"got shape {tuple(logits.shape)}."
        )
    if not isinstance(target, torch.Tensor):
        raise ValueError(f"Loss '{loss}': target must be a tensor, got {_describe(target)}.")
    if target.is_floating_point():
        if target.shape != logits.shape:
            raise ValueError(
                f"Loss '{loss}': float (one-hot / soft) targets must have the logits' shape "
                f"{tuple(logits.shape)}, got {tuple(target.shape)}."
            )
        return True
    if target.dtype == torch.bool or target.is_complex():
        raise ValueError(
            f"Loss '{loss}': target must hold integer class indices or float probabilities, "
            f"got dtype {target.dtype}."
        )
    expected = logits.shape[:1] + logits.shape[2:]
    if target.shape != expected:
        raise ValueError(
            f"Loss '{loss}': index targets for logits of shape {tuple(logits.shape)} must have "
            f"shape {tuple(expected)}, got {tuple(target.shape)}."
        )
    return False


def split_ignored(target: torch.Tensor, ignore_index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`(safe_target, valid)`: ignored entries replaced by class 0 and flagged False in `valid`.

    No data-dependent branch here: asking whether anything is ignored would force a device sync.
    """
    target = target.long()
    valid = target != ignore_index
    return target.masked_fill(~valid, 0), valid


def class_vector(
    loss: str,
    name: str,
    values: torch.Tensor | Sequence[float] | None,
    num_classes: int,
    like: torch.Tensor,
) -> torch.Tensor | None:
    """A per-class vector (weight, alpha) on `like`'s device and dtype, checked against C."""
    if values is None:
        return None
    values = torch.as_tensor(values, dtype=like.dtype, device=like.device)
    if values.shape != (num_classes,):
        raise ValueError(
            f"Loss '{loss}': '{name}' has {values.numel()} entries but the logits have "
            f"{num_classes} classes; allowed: one value per class."
        )
    return values


def per_class(vector: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`vector (C,)` shaped `(1, C, 1, ...)` to broadcast against `like (N, C, d1, ...)`."""
    return vector.view((1, -1) + (1,) * (like.dim() - 2))


def reduce(
    per_sample: torch.Tensor, reduction: str, normalizer: torch.Tensor | float, dtype: torch.dtype
) -> torch.Tensor:
    """Apply `reduction`; `mean` is `sum / normalizer` (summed weights or item count)."""
    if reduction == "none":
        return per_sample.to(dtype)
    total = per_sample.sum()
    if reduction == "sum":
        return total.to(dtype)
    return (total / normalizer).to(dtype)


def one_minus_power(one_minus_p: torch.Tensor, exponent: float) -> torch.Tensor:
    """`(1 - p)^exponent` with finite values and gradients where `1 - p` underflows to 0.

    For an exponent below 1 the derivative of `x^exponent` is infinite at 0, and a fractional
    power of a rounding-negative `x` is NaN: there `x` is clamped to the smallest normal number,
    which makes the gradient at 0 vanish and changes the value by less than 1e-37^exponent.
    Integer exponents >= 1 need no clamp (and skip its pass over the data).
    """
    if exponent == 0.0:
        return torch.ones_like(one_minus_p)
    if exponent == 1.0:
        return one_minus_p
    if exponent > 1.0 and float(exponent).is_integer():
        return one_minus_p.pow(exponent)
    return one_minus_p.clamp_min(torch.finfo(one_minus_p.dtype).tiny).pow(exponent)


def _describe(value: object) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of dtype {value.dtype} and shape {tuple(value.shape)}"
    return f"{type(value).__name__} {value!r}"[:100]
