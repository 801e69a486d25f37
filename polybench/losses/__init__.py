"""Classification losses compared by polybench: cross-entropy, PolyLoss and focal loss.

PolyLoss (Leng et al., "PolyLoss: A Polynomial Expansion Perspective of Classification Loss
Functions", ICLR 2022) views cross-entropy as the series `sum_j (1 - p_t)^j / j` and adjusts the
leading coefficients; Poly-1 adds `eps * (1 - p_t)`. The paper used eps = 2 for ImageNet
classification and eps = -1 with focal loss (Lin et al., "Focal Loss for Dense Object
Detection", ICCV 2017) for detection, and keeps eps >= -1.

    >>> import torch
    >>> from polybench.losses import build_loss
    >>> loss = build_loss("poly1_cross_entropy", epsilon=2.0)
    >>> value = loss(torch.randn(8, 5, requires_grad=True), torch.randint(0, 5, (8,)))

`LOSSES` maps each name to its class; each class declares its hyperparameters (`HyperParam`, a
`polybench.settings.Setting`: default, valid range, whether tunable, search range) in
`hyperparams`, the one place the CLI, the study runner and `validate_params` read them from.
`polybench.losses.functional` has the same losses as plain functions.

Your own loss: subclass `Loss`, set `name`, `summary` and `hyperparams`, override `forward`,
and decorate it with `@register` (or name it in a study as `my_module:MyLoss`); see the
README's "Benchmark your own loss".
"""

from __future__ import annotations

from polybench.losses import _modules, functional  # noqa: F401  (importing fills LOSSES)
from polybench.losses._modules import (
    CrossEntropy,
    Focal,
    Loss,
    Poly1CrossEntropy,
    Poly1Focal,
    Poly1SigmoidFocal,
    PolyNCrossEntropy,
    SeedFocal,
    SeedPoly1Focal,
    SigmoidFocal,
)
from polybench.losses._params import HyperParam
from polybench.losses._registry import (
    LOSSES,
    build_loss,
    describe_losses,
    get_loss_class,
    register,
    validate_params,
)

__all__ = [
    "LOSSES",
    "CrossEntropy",
    "Focal",
    "HyperParam",
    "Loss",
    "Poly1CrossEntropy",
    "Poly1Focal",
    "Poly1SigmoidFocal",
    "PolyNCrossEntropy",
    "SeedFocal",
    "SeedPoly1Focal",
    "SigmoidFocal",
    "build_loss",
    "describe_losses",
    "get_loss_class",
    "register",
    "validate_params",
]
