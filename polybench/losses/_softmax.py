"""The softmax family: cross-entropy, Poly-1 / Poly-N cross-entropy, focal and Poly-1 focal.

PolyLoss (Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification Loss
Functions", ICLR 2022) writes cross-entropy as `sum_j (1 - p_t)^j / j` and perturbs the leading
coefficients: Poly-1 adds `eps * (1 - p_t)`. The paper used eps = 2 for ImageNet classification and
eps = -1 together with focal loss (Lin et al., "Focal Loss for Dense Object Detection", ICCV
2017) for detection, and recommends eps >= -1 so the loss keeps decreasing in p_t.

Every loss here is built from one `SoftmaxTerms` (one `log_softmax` per call, no one-hot for
index targets) and differs only in how it combines the per-sample terms. The common case (int64
class indices, float32/float64 logits, no label smoothing, no focal alpha) has a shorter path
built from ops autograd already differentiates, because at the batch sizes polybench's tasks train
with (64 x 10) the cost is per call, not per element: `cross_entropy` is `F.cross_entropy`
itself, and for small inputs Poly-1, Poly-N and focal apply their per-class form `v(log p)`
elementwise to the `(N, C, ...)` log-probabilities and let `F.nll_loss` gather, weight, ignore
and reduce (`-w_t v(log p_t)` is the per-sample loss, with `mean` dividing by the summed `w_t` as
below); a module builds its form `v` once (`poly1_form`, `focal_form`, ...), not once per
batch. Where polybench's compiled CPU kernel is built (`_native.py`, `polybench kernels --build`),
2-D CPU logits run Poly-1, Poly-N with one coefficient, focal and Poly-1 focal as that one op
instead, which costs about what `F.cross_entropy` does. Large inputs keep the fused kernel
(`_autograd.py`), which touches the `(N, C)` data fewer times. `benchmarks/losses.py` measures
every regime.

Conventions, shared with `F.cross_entropy`: with class weights `w` and target distribution `q`
(one-hot for index targets, smoothed by `label_smoothing`), the cross-entropy part is
`-sum_c w_c q_c log p_c`, `p_t = sum_c q_c p_c`, and every added term (Poly, focal) is multiplied
by the sample weight `sum_c w_c q_c` (`w_y` for index targets), so eps = -1 still cancels the
leading term. `mean` divides by the summed `w_y` of non-ignored index targets (torch's weighted
mean), or by the number of items for float targets (as torch does for probability targets).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from polybench.losses import _native
from polybench.losses._autograd import target_log_softmax
from polybench.losses._targets import (
    class_vector,
    compute_dtype,
    is_soft_target,
    one_minus_power,
    per_class,
    reduce,
    split_ignored,
)

ClassValues = torch.Tensor | Sequence[float] | None

# Above this many logits the fused kernel wins: the elementwise per-class form costs a few extra
# passes over (N, C) data, which outweighs the saved dispatches (`benchmarks/losses.py`).
DENSE_MAX_NUMEL = 65536
SHORT_PATH_DTYPES = (torch.float32, torch.float64)


def _short_path_weight(
    logits: torch.Tensor, weight: ClassValues
) -> tuple[bool, torch.Tensor | None]:
    """Whether `weight` can go straight to torch (None or a tensor in the logits' dtype)."""
    if weight is None:
        return True, None
    if isinstance(weight, torch.Tensor) and weight.dtype == logits.dtype:
        return True, weight
    return False, None


@dataclass(frozen=True)
class SoftmaxTerms:
    """Per-sample quantities of the softmax family, each `(N, d1, ...)` in the compute dtype.

    `ce` is `F.cross_entropy`'s per-sample value (weights and smoothing included),
    `one_minus_pt` is `1 - p_t`, `sample_weight` multiplies every added term (0 where ignored),
    `normalizer` is what `mean` divides by.
    """

    ce: torch.Tensor
    one_minus_pt: torch.Tensor
    sample_weight: torch.Tensor
    normalizer: torch.Tensor | int
    index: torch.Tensor | None  # (N, d1, ...) class ids, for index targets
    soft: torch.Tensor | None  # (N, C, d1, ...) target distribution q, for float targets
    label_smoothing: float
    num_classes: int
    dtype: torch.dtype

    def expect(self, per_class_values: torch.Tensor) -> torch.Tensor:
        """`sum_c q_c v_c` for a per-class vector `v (C,)`, e.g. the focal alpha_t."""
        if self.soft is not None:
            return (self.soft * per_class(per_class_values, self.soft)).sum(1)
        gathered = per_class_values[self.index]
        if self.label_smoothing == 0.0:
            return gathered
        ls = self.label_smoothing
        return (1.0 - ls) * gathered + ls / self.num_classes * per_class_values.sum()


def softmax_terms(
    loss: str,
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    weight: ClassValues,
    ignore_index: int,
    label_smoothing: float,
) -> SoftmaxTerms:
    """Compute `SoftmaxTerms` for logits `(N, C, ...)` and index or float targets."""
    soft = is_soft_target(loss, logits, target)
    dtype = compute_dtype(logits)
    num_classes = logits.shape[1]
    ls = label_smoothing
    w = class_vector(loss, "weight", weight, num_classes, logits.new_empty(0, dtype=dtype))
    if soft:
        q = target.to(dtype)
        if ls > 0.0:
            q = q * (1.0 - ls) + ls / num_classes
        log_p = torch.log_softmax(logits, dim=1, dtype=dtype)
        wq = q if w is None else q * per_class(w, q)
        ce = -(wq * log_p).sum(1)
        one_minus_pt = 1.0 - (q * log_p.exp()).sum(1)
        sample_weight = torch.ones_like(ce) if w is None else wq.sum(1)
        return SoftmaxTerms(
            ce, one_minus_pt, sample_weight, ce.numel(), None, q, ls, num_classes, dtype
        )

    index, valid = split_ignored(target, ignore_index)
    log_pt, log_sum = target_log_softmax(logits, index, valid, w, ls > 0.0, dtype)
    w_y = valid.to(dtype) if w is None else w[index] * valid
    one_minus_py = -torch.expm1(log_pt)  # exact near p_t = 1, and 0 where ignored
    if ls == 0.0:
        ce = -log_pt if w is None else -w_y * log_pt
        return SoftmaxTerms(ce, one_minus_py, w_y, w_y.sum(), index, None, 0.0, num_classes, dtype)
    total_weight = num_classes if w is None else w.sum()
    ce = -(1.0 - ls) * w_y * log_pt - (ls / num_classes) * log_sum
    # 1 - p_t with p_t = (1 - ls) p_y + ls / C
    one_minus_pt = (1.0 - ls) * one_minus_py + ls * (1.0 - 1.0 / num_classes) * valid
    sample_weight = (1.0 - ls) * w_y + (ls / num_classes) * total_weight * valid
    return SoftmaxTerms(
        ce, one_minus_pt, sample_weight, w_y.sum(), index, None, ls, num_classes, dtype
    )


def cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    label_smoothing: float,
    weight: ClassValues,
    ignore_index: int,
    reduction: str,
    loss: str = "cross_entropy",
) -> torch.Tensor:
    """`-sum_c w_c q_c log p_c`, equal to `F.cross_entropy` with the same arguments."""
    direct, torch_weight = _short_path_weight(logits, weight)
    if direct and logits.dtype in SHORT_PATH_DTYPES:
        try:
            return F.cross_entropy(
                logits,
                target,
                weight=torch_weight,
                ignore_index=ignore_index,
                reduction=reduction,
                label_smoothing=label_smoothing,
            )
        except (RuntimeError, ValueError, IndexError):
            pass  # the general path below raises the error that names the loss and shapes
    terms = softmax_terms(
        loss,
        logits,
        target,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
    )
    return reduce(terms.ce, reduction, terms.normalizer, logits.dtype)


def poly1_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    epsilon: float,
    label_smoothing: float,
    weight: ClassValues,
    ignore_index: int,
    reduction: str,
    loss: str = "poly1_cross_entropy",
) -> torch.Tensor:
    """`CE + eps * w_t * (1 - p_t)`."""
    form = poly1_form(epsilon=epsilon, label_smoothing=label_smoothing)
    if form is not None:
        value = short_path(logits, target, weight, ignore_index, reduction, form)
        if value is not None:
            return value
    terms = softmax_terms(
        loss,
        logits,
        target,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
    )
    per_sample = terms.ce + epsilon * terms.sample_weight * terms.one_minus_pt
    return reduce(per_sample, reduction, terms.normalizer, logits.dtype)


def polyn_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    epsilons: Sequence[float] | torch.Tensor,
    label_smoothing: float,
    weight: ClassValues,
    ignore_index: int,
    reduction: str,
    loss: str = "polyn_cross_entropy",
) -> torch.Tensor:
    """`CE + w_t * sum_{j=1..N} eps_j (1 - p_t)^j`."""
    coefficients = [float(e) for e in epsilons]
    form = polyn_form(epsilons=coefficients, label_smoothing=label_smoothing)
    if form is not None:
        value = short_path(logits, target, weight, ignore_index, reduction, form)
        if value is not None:
            return value
    terms = softmax_terms(
        loss,
        logits,
        target,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
    )
    series = _poly_series(terms.one_minus_pt, coefficients)
    per_sample = terms.ce + terms.sample_weight * series
    return reduce(per_sample, reduction, terms.normalizer, logits.dtype)


@dataclass(frozen=True)
class PerClassForm:
    """The short path's per-class form `v(log p)` of one loss setting, and, where the compiled
    kernel computes the same loss, its `(gamma, eps)`: `-v = (1 - p)^gamma (-log p + eps (1 - p))`.
    """

    apply: Callable[[torch.Tensor], torch.Tensor]
    kernel: tuple[float, float] | None

    def __call__(self, log_p: torch.Tensor) -> torch.Tensor:
        return self.apply(log_p)


def short_path(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: ClassValues,
    ignore_index: int,
    reduction: str,
    form: PerClassForm,
) -> torch.Tensor | None:
    """The short path: `-w_t v(log p)_t` reduced by `F.nll_loss` (which gathers, weights,
    ignores and divides `mean` by the summed `w_t`), for `v = form(log p)` elementwise; or, for
    2-D CPU logits and a form the compiled kernel computes (`_native.py`, when it is built and
    not under `torch.compile`), the same loss as one op.

    None outside the common small case (int64 indices, float32/64 logits, at most
    `DENSE_MAX_NUMEL` of them, a weight torch takes as it is) and where torch refuses the inputs
    (shapes, targets out of range): the general path then computes the loss or raises the error
    that names it. The checks are cheap on purpose: they run once per batch.
    """
    if (
        target.dtype != torch.int64
        or logits.dtype not in SHORT_PATH_DTYPES
        or logits.numel() > DENSE_MAX_NUMEL
        or (weight is not None and getattr(weight, "dtype", None) != logits.dtype)
    ):
        return None
    if (
        form.kernel is not None
        and logits.dim() == 2
        and not torch.compiler.is_compiling()  # torch.compile fuses the eager form instead
        and (native := _native.module()) is not None
    ):
        try:  # one compiled op (CPU, float32/64): it refuses anything else, and so do we then
            gamma, eps = form.kernel
            return native.softmax_family(
                logits, target, weight, gamma, eps, ignore_index, reduction
            )
        except (RuntimeError, TypeError):
            pass
    try:
        log_p = torch.log_softmax(logits, 1)
        return F.nll_loss(form(log_p), target, weight, None, ignore_index, None, reduction)
    except (RuntimeError, ValueError, IndexError):
        return None


# The per-class forms `v(log p)` of the short path, one per loss, built once per setting (a
# module builds its own when constructed). Each returns None where the short path does not
# apply (label smoothing, a focal alpha); extra settings are ignored, so a module can pass all.


# `elu(x, a) = a * expm1(x)` for `x <= 0`, and log-probabilities are never positive: so
# `elu(log p, a)` is `a (p - 1)` in one op whose backward is one kernel (`expm1`'s is two, and a
# scaled `add` adds a third). At 64 x 10 the cost is per op, forward and backward, so this is
# what makes the per-class forms below cheap; ATen computes it with `expm1`, so it stays exact
# near p = 1.


def poly1_form(*, epsilon: float, label_smoothing: float = 0.0, **_: object) -> PerClassForm | None:
    """`v = log p - eps (1 - p) = log p + elu(log p, eps)`."""
    if label_smoothing != 0.0:
        return None
    if epsilon == 0.0:
        return PerClassForm(_identity, (0.0, 0.0))
    return PerClassForm(lambda log_p: torch.add(log_p, F.elu(log_p, epsilon)), (0.0, epsilon))


def _identity(log_p: torch.Tensor) -> torch.Tensor:
    return log_p


def polyn_form(
    *, epsilons: Sequence[float], label_smoothing: float = 0.0, **_: object
) -> PerClassForm | None:
    """`v = log p - sum_j eps_j (1 - p)^j`."""
    if label_smoothing != 0.0:
        return None
    coefficients = [float(e) for e in epsilons]
    if len(coefficients) == 1:  # Poly-1 (the default), in its two ops
        return poly1_form(epsilon=coefficients[0])
    return PerClassForm(lambda log_p: log_p - _poly_series(F.elu(log_p, -1.0), coefficients), None)


def focal_form(
    *,
    gamma: float,
    alpha: ClassValues = None,
    epsilon: float = 0.0,
    label_smoothing: float = 0.0,
    **_: object,
) -> PerClassForm | None:
    """`v = (1 - p)^gamma (log p - eps (1 - p))`, with `1 - p = elu(log p, -1)`."""
    if label_smoothing != 0.0 or alpha is not None:
        return None
    if gamma == 0.0:
        return poly1_form(epsilon=epsilon)
    if gamma == 2.0:  # the default: two products cost less than `pow`, forward and back

        def squared(log_p: torch.Tensor) -> torch.Tensor:
            p_minus_one = F.elu(log_p, 1.0)
            inner = log_p if epsilon == 0.0 else torch.add(log_p, p_minus_one, alpha=epsilon)
            return p_minus_one * p_minus_one * inner

        return PerClassForm(squared, (gamma, epsilon))

    def powered(log_p: torch.Tensor) -> torch.Tensor:
        one_minus_p = F.elu(log_p, -1.0)
        inner = log_p if epsilon == 0.0 else torch.add(log_p, one_minus_p, alpha=-epsilon)
        return one_minus_power(one_minus_p, gamma) * inner

    return PerClassForm(powered, (gamma, epsilon))


def _poly_series(x: torch.Tensor, coefficients: Sequence[float]) -> torch.Tensor:
    """`sum_j eps_j x^j` by Horner: `x * (e1 + x * (e2 + ...))`."""
    series = x * coefficients[-1]
    for eps in reversed(coefficients[:-1]):
        series = x * (series + eps)
    return series


def focal(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float,
    alpha: ClassValues,
    epsilon: float = 0.0,
    label_smoothing: float,
    weight: ClassValues,
    ignore_index: int,
    reduction: str,
    loss: str = "focal",
) -> torch.Tensor:
    """`alpha_t (1 - p_t)^gamma CE + eps * w_t * (1 - p_t)^(gamma + 1)` (eps = 0: plain focal)."""
    form = focal_form(gamma=gamma, alpha=alpha, epsilon=epsilon, label_smoothing=label_smoothing)
    if form is not None:
        value = short_path(logits, target, weight, ignore_index, reduction, form)
        if value is not None:
            return value
    terms = softmax_terms(
        loss,
        logits,
        target,
        weight=weight,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
    )
    per_sample = _focal_part(loss, terms, gamma, alpha)
    if epsilon != 0.0:
        poly = one_minus_power(terms.one_minus_pt, gamma + 1.0)
        per_sample = per_sample + epsilon * terms.sample_weight * poly
    return reduce(per_sample, reduction, terms.normalizer, logits.dtype)


def seed_focal(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float,
    alpha: float,
    epsilon: float = 0.0,
    weight: ClassValues,
    ignore_index: int,
    reduction: str,
    loss: str = "seed_focal",
) -> torch.Tensor:
    """The blog's softmax focal (alpha for class 0, 1 - alpha for the others), plus, for
    eps != 0, its Poly-1 term `eps * w_t * mean_c (1 - s_t)^(gamma + 1)` on sigmoid
    probabilities `s = sigmoid(z)` (`seed_poly1_focal`)."""
    terms = softmax_terms(
        loss, logits, target, weight=weight, ignore_index=ignore_index, label_smoothing=0.0
    )
    alphas = torch.full((logits.shape[1],), 1.0 - alpha, dtype=terms.dtype, device=logits.device)
    alphas[0] = alpha
    per_sample = _focal_part(loss, terms, gamma, alphas)
    if epsilon != 0.0:
        poly = _sigmoid_poly_mean(logits, terms, gamma + 1.0)
        per_sample = per_sample + epsilon * terms.sample_weight * poly
    return reduce(per_sample, reduction, terms.normalizer, logits.dtype)


def _focal_part(loss: str, terms: SoftmaxTerms, gamma: float, alpha: ClassValues) -> torch.Tensor:
    """`alpha_t (1 - p_t)^gamma CE`; alpha None means alpha_t = 1."""
    modulated = one_minus_power(terms.one_minus_pt, gamma) * terms.ce if gamma else terms.ce
    if alpha is None:
        return modulated
    alphas = class_vector(loss, "alpha", alpha, terms.num_classes, terms.ce)
    return terms.expect(alphas) * modulated


def _sigmoid_poly_mean(logits: torch.Tensor, terms: SoftmaxTerms, exponent: float) -> torch.Tensor:
    """`mean_c (1 - s_t)^exponent` with `s = sigmoid(z)`: `s_c` off target, `1 - s_y` on it."""
    z = logits.to(terms.dtype)
    if terms.soft is not None:
        t = terms.soft
        one_minus_st = t * torch.sigmoid(-z) + (1.0 - t) * torch.sigmoid(z)
        return one_minus_power(one_minus_st, exponent).mean(1)
    index = terms.index.unsqueeze(1)
    off_target = one_minus_power(torch.sigmoid(z), exponent)
    on_target = one_minus_power(torch.sigmoid(-z.gather(1, index)), exponent)
    return off_target.scatter(1, index, on_target).mean(1)
