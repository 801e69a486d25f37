"""The loss modules: one class per registered name, each a thin `nn.Module` over `functional`.

The base class `Loss` fixes the contract once: hyperparameters are validated at construction
against the class's `hyperparams` declarations (the only place defaults and ranges live), stored
without ever being changed by `forward`, and `loss(logits, target)` returns the loss in the
logits' dtype. Paper: Leng et al., "PolyLoss: A Polynomial Expansion Perspective of
Classification Loss Functions", ICLR 2022 (eps = 2 on ImageNet, eps = -1 with focal loss for
detection, eps >= -1); focal loss: Lin et al., ICCV 2017.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from polybench.losses import _sigmoid, _softmax
from polybench.losses._params import (
    CLASS_ALPHA,
    EPSILON,
    EPSILONS,
    GAMMA,
    IGNORE_INDEX,
    LABEL_SMOOTHING,
    LABEL_SMOOTHING_FIXED,
    REDUCTION,
    SEED_ALPHA,
    SIGMOID_ALPHA,
    SIGMOID_WEIGHT,
    WEIGHT,
    HyperParam,
)
from polybench.losses._registry import register
from polybench.settings import clean_params

COMMON = (WEIGHT, IGNORE_INDEX, REDUCTION)


class Loss(nn.Module):
    """Base of every polybench loss. Subclasses declare `name`, `summary`, `hyperparams` and
    name the function in `_softmax` / `_sigmoid` that computes them (`compute`).

    Per-class vectors (`weight`, a per-class `alpha`) become buffers, so `.to(device)` moves
    them; every other hyperparameter is a plain attribute of the same name.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    hyperparams: ClassVar[tuple[HyperParam, ...]]
    # The function in `_softmax` / `_sigmoid` that computes the loss from the hyperparameters.
    compute: ClassVar[Callable[..., torch.Tensor]]
    # For the softmax family: builds the short path's per-class form from the hyperparameters
    # (`_softmax.poly1_form`, ...), once per setting instead of once per batch.
    short_form: ClassVar[Callable[..., _softmax.PerClassForm | None] | None] = None

    def __init__(self, **params: Any) -> None:
        super().__init__()
        given = clean_params(self.name, self.hyperparams, params)
        # `forward` runs once per batch: it copies these plain settings and reads the buffers
        # by name, instead of walking the declarations (a measurable cost at 64 x 10).
        self._plain_settings: dict[str, Any] = {"loss": self.name}
        self._buffer_names: tuple[str, ...] = ()
        for hp in self.hyperparams:
            value = given[hp.name] if hp.name in given else hp.clean(self.name, hp.default)
            if hp.kind == "floats" and hp.name != "epsilons":
                tensor = None if value is None else torch.as_tensor(value, dtype=torch.float32)
                self.register_buffer(hp.name, tensor)
                self._buffer_names += (hp.name,)
                continue
            if hp.kind == "floats":
                value = tuple(float(v) for v in value)
            setattr(self, hp.name, value)
            self._plain_settings[hp.name] = value
        self._short = self._build_short_form()

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        plain = self.__dict__.get("_plain_settings")
        if plain is not None and name in plain and name != "loss":
            plain[name] = value  # keep `forward`'s copy in step with a reassigned setting
        if "_short" in self.__dict__ and (name in plain or name in self._buffer_names):
            self._short = self._build_short_form()

    def _build_short_form(self) -> _softmax.PerClassForm | None:
        if type(self).short_form is None:
            return None
        settings = dict(self._plain_settings)
        for name in self._buffer_names:
            settings[name] = self._buffers[name]
        return type(self).short_form(**settings)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """logits `(N, C, ...)`, target `(N, ...)` indices or `(N, C, ...)` floats -> loss."""
        form = self._short
        if form is not None:  # small batches: the cost is per call, so go straight to torch
            value = _softmax.short_path(
                logits, target, self._buffers["weight"], self.ignore_index, self.reduction, form
            )
            if value is not None:
                return value
        settings = dict(self._plain_settings)
        buffers = self._buffers
        for name in self._buffer_names:
            settings[name] = buffers[name]
        return type(self).compute(logits, target, **settings)

    def params(self) -> dict[str, Any]:
        """The hyperparameters this module was built with (tensors as lists)."""
        values = {}
        for hp in self.hyperparams:
            value = getattr(self, hp.name)
            values[hp.name] = value.tolist() if isinstance(value, torch.Tensor) else value
        return values

    def extra_repr(self) -> str:
        shown = []
        for key, value in self.params().items():
            if isinstance(value, list) and len(value) > 4:
                value = f"[{len(value)} values]"
            shown.append(f"{key}={value!r}")
        return ", ".join(shown)


@register
class CrossEntropy(Loss):
    """Cross-entropy, identical to `F.cross_entropy` (values, gradients, reductions).

    Args:
        label_smoothing: mix the target with the uniform distribution; 0 is off.
        weight: per-class weights `(C,)`; None means 1 for every class.
        ignore_index: index targets equal to it add nothing; default -100.
        reduction: 'none' | 'mean' | 'sum'.
    """

    name = "cross_entropy"
    summary = "-log p_t (torch's F.cross_entropy)"
    hyperparams = (LABEL_SMOOTHING, *COMMON)
    compute = staticmethod(_softmax.cross_entropy)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """`F.cross_entropy` called directly where torch computes the same thing: at 64 x 10
        the generic `forward`'s settings dict alone costs a few percent of the loss."""
        weight = self._buffers["weight"]
        if logits.dtype in _softmax.SHORT_PATH_DTYPES and (
            weight is None or weight.dtype == logits.dtype
        ):
            try:
                return F.cross_entropy(
                    logits,
                    target,
                    weight,
                    None,
                    self.ignore_index,
                    None,
                    self.reduction,
                    self.label_smoothing,
                )
            except (RuntimeError, ValueError, IndexError):
                pass  # the generic path raises the error that names the loss and the shapes
        return super().forward(logits, target)


@register
class Poly1CrossEntropy(Loss):
    """Poly-1 cross-entropy `CE + eps * (1 - p_t)` (PolyLoss, Leng et al., ICLR 2022).

    Args:
        epsilon: coefficient of `(1 - p_t)`; 0 is plain cross-entropy, -1 drops the leading
            polynomial term; the paper used 2 on ImageNet. Must be >= -1.
        label_smoothing: smooth the target first (p_t = sum_c q_c p_c); 0 is off.
        weight: per-class weights `(C,)` multiplying the whole per-sample loss; None means 1.
        ignore_index: index targets equal to it add nothing; default -100.
        reduction: 'none' | 'mean' | 'sum'.
    """

    name = "poly1_cross_entropy"
    summary = "CE + eps (1 - p_t)"
    hyperparams = (EPSILON, LABEL_SMOOTHING, *COMMON)
    compute = staticmethod(_softmax.poly1_cross_entropy)
    short_form = staticmethod(_softmax.poly1_form)


@register
class PolyNCrossEntropy(Loss):
    """Poly-N cross-entropy `CE + sum_{j=1..N} eps_j (1 - p_t)^j` (PolyLoss, ICLR 2022).

    Args:
        epsilons: the coefficients eps_1..eps_N; (0,) is plain cross-entropy and
            eps_j = -1/j for j = 1..N leaves only the series tail `sum_{j>N} (1 - p_t)^j / j`.
        label_smoothing: smooth the target first; 0 is off.
        weight: per-class weights `(C,)` multiplying the whole per-sample loss; None means 1.
        ignore_index: index targets equal to it add nothing; default -100.
        reduction: 'none' | 'mean' | 'sum'.
    """

    name = "polyn_cross_entropy"
    summary = "CE + sum_j eps_j (1 - p_t)^j"
    hyperparams = (EPSILONS, LABEL_SMOOTHING_FIXED, *COMMON)
    compute = staticmethod(_softmax.polyn_cross_entropy)
    short_form = staticmethod(_softmax.polyn_form)


@register
class Focal(Loss):
    """Softmax (multi-class) focal loss `-alpha_t (1 - p_t)^gamma log p_t` (Lin et al., 2017).

    Args:
        gamma: focusing exponent; 0 is cross-entropy (weighted by alpha).
        alpha: per-class weights alpha_c `(C,)`; None means 1 for every class.
        label_smoothing: smooth the target first; 0 is off.
        weight: per-class weights `(C,)` multiplying the whole per-sample loss; None means 1.
        ignore_index: index targets equal to it add nothing; default -100.
        reduction: 'none' | 'mean' | 'sum'.
    """

    name = "focal"
    summary = "-alpha_t (1 - p_t)^gamma log p_t (softmax)"
    hyperparams = (GAMMA, CLASS_ALPHA, LABEL_SMOOTHING_FIXED, *COMMON)
    compute = staticmethod(_softmax.focal)
    short_form = staticmethod(_softmax.focal_form)


@register
class Poly1Focal(Loss):
    """Softmax Poly-1 focal loss `focal + eps * (1 - p_t)^(gamma + 1)` (PolyLoss, ICLR 2022).

    Args:
        epsilon: coefficient of the added term; 0 is plain softmax focal loss. Must be >= -1.
        gamma: focusing exponent; 0 gives Poly-1 cross-entropy (when alpha is None).
        alpha: per-class weights alpha_c `(C,)` of the focal part; None means 1.
        label_smoothing: smooth the target first; 0 is off.
        weight: per-class weights `(C,)` multiplying the whole per-sample loss; None means 1.
        ignore_index: index targets equal to it add nothing; default -100.
        reduction: 'none' | 'mean' | 'sum'.
    """

    name = "poly1_focal"
    summary = "focal + eps (1 - p_t)^(gamma+1) (softmax)"
    hyperparams = (EPSILON, GAMMA, CLASS_ALPHA, LABEL_SMOOTHING_FIXED, *COMMON)
    compute = staticmethod(_softmax.focal)
    short_form = staticmethod(_softmax.focal_form)


@register
class SigmoidFocal(Loss):
    """Sigmoid focal loss (RetinaNet; Lin et al., ICCV 2017), summed over classes.

    Equals `torchvision.ops.sigmoid_focal_loss(...).sum(1)` per sample. Targets: multi-hot
    floats `(N, C, ...)` or index targets (one-hot is built, `ignore_index` honoured).

    Args:
        gamma: focusing exponent; 0 is alpha-balanced binary cross-entropy.
        alpha: weight of positives (1 - alpha for negatives); None or < 0 disables.
        weight: per-class weights `(C,)` scaling each class's binary term; None means 1.
        ignore_index: index targets equal to it add nothing; default -100.
        reduction: 'none' | 'mean' (over samples) | 'sum'.
    """

    name = "sigmoid_focal"
    summary = "sum_c alpha_t (1 - s_t)^gamma BCE (sigmoid, multi-label)"
    hyperparams = (GAMMA, SIGMOID_ALPHA, SIGMOID_WEIGHT, IGNORE_INDEX, REDUCTION)
    compute = staticmethod(_sigmoid.sigmoid_focal)


@register
class Poly1SigmoidFocal(Loss):
    """The paper's Poly-1 focal loss: sigmoid focal + `sum_c eps * (1 - s_t)^(gamma + 1)`.

    The paper used eps = -1 with RetinaNet on COCO.

    Args:
        epsilon: coefficient of the added term; 0 is plain sigmoid focal loss. Must be >= -1.
        gamma: focusing exponent; 0 with alpha None is Poly-1 binary cross-entropy.
        alpha: weight of positives (1 - alpha for negatives); None or < 0 disables.
        weight: per-class weights `(C,)` scaling each class's whole term; None means 1.
        ignore_index: index targets equal to it add nothing; default -100.
        reduction: 'none' | 'mean' (over samples) | 'sum'.
    """

    name = "poly1_sigmoid_focal"
    summary = "sigmoid_focal + sum_c eps (1 - s_t)^(gamma+1)"
    hyperparams = (EPSILON, GAMMA, SIGMOID_ALPHA, SIGMOID_WEIGHT, IGNORE_INDEX, REDUCTION)
    compute = staticmethod(_sigmoid.sigmoid_focal)


@register
class SeedFocal(Loss):
    """The reference blog's softmax focal loss: alpha for class 0, 1 - alpha for the others.

    Class 0 plays "background" (as in kornia); the module never changes `alpha`, so calling it
    twice gives the same value (the blog's module overwrote its alpha in `forward`).

    Args:
        gamma: focusing exponent; 0 is alpha-weighted cross-entropy.
        alpha: weight of class 0; every other class gets 1 - alpha. Default 0.25.
        weight: per-class weights `(C,)` multiplying the whole per-sample loss; None means 1.
        ignore_index: index targets equal to it add nothing; default -100.
        reduction: 'none' | 'mean' | 'sum'.
    """

    name = "seed_focal"
    summary = "blog's focal: alpha for class 0, 1 - alpha for others (softmax)"
    hyperparams = (GAMMA, SEED_ALPHA, *COMMON)
    compute = staticmethod(_softmax.seed_focal)


@register
class SeedPoly1Focal(Loss):
    """The reference blog's Poly-1 focal: `seed_focal + eps * mean_c (1 - s_t)^(gamma + 1)`.

    The added term uses SIGMOID probabilities averaged over classes while the focal part uses
    softmax, exactly as the blog's code; kept for users who reproduce its numbers.

    Args:
        epsilon: coefficient of the added term; 0 is `seed_focal`. Must be >= -1.
        gamma: focusing exponent.
        alpha: weight of class 0; every other class gets 1 - alpha. Default 0.25.
        weight: per-class weights `(C,)` multiplying the whole per-sample loss; None means 1.
        ignore_index: index targets equal to it add nothing; default -100.
        reduction: 'none' | 'mean' | 'sum'.
    """

    name = "seed_poly1_focal"
    summary = "seed_focal + eps mean_c (1 - s_t)^(gamma+1) (sigmoid term)"
    hyperparams = (EPSILON, GAMMA, SEED_ALPHA, *COMMON)
    compute = staticmethod(_softmax.seed_focal)
