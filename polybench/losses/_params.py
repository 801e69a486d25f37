"""The losses' shared hyperparameter declarations: each loss's knobs, defaults and ranges.

Each is a `polybench.settings.Setting`; the loss classes list the ones they take in
`hyperparams`, and `validate_params`, the study runner's search space and `polybench losses` read
them from there. `HyperParam` is `Setting` under the name loss authors know (the README's
"Benchmark your own loss").
"""

from __future__ import annotations

from dataclasses import replace

from polybench.settings import Setting

HyperParam = Setting

# The shared declarations. Losses list the ones they take; a loss-specific default or range is a
# `replace(...)` of one of these, never a second definition.

EPSILON = Setting(
    "epsilon",
    1.0,
    low=-1.0,
    tunable=True,
    search_low=-1.0,
    search_high=10.0,
    help="Poly-1 coefficient of the leading polynomial term; 0 is the base loss. The paper used "
    "2 on ImageNet and -1 with focal loss for detection; >= -1 keeps the loss monotone.",
)
EPSILONS = Setting(
    "epsilons",
    (1.0,),
    kind="floats",
    help="Poly-N coefficients eps_1..eps_N of (1 - p_t)^j; eps_j = -1/j for all j leaves only "
    "the tail of the cross-entropy series.",
)
GAMMA = Setting(
    "gamma",
    2.0,
    low=0.0,
    tunable=True,
    search_low=0.0,
    search_high=5.0,
    help="Focusing exponent of (1 - p_t)^gamma; 0 removes the modulation.",
)
CLASS_ALPHA = Setting(
    "alpha",
    None,
    low=0.0,
    kind="floats",
    optional=True,
    help="Per-class focal weights alpha_c (one per class); None means 1 for every class.",
)
SIGMOID_ALPHA = Setting(
    "alpha",
    0.25,
    low=0.0,
    high=1.0,
    tunable=True,
    optional=True,
    disabled_below=0.0,
    search_low=0.05,
    search_high=0.95,
    help="Weight of positives, 1 - alpha of negatives (RetinaNet); None or < 0 disables.",
)
SEED_ALPHA = Setting(
    "alpha",
    0.25,
    low=0.0,
    high=1.0,
    tunable=True,
    search_low=0.05,
    search_high=0.95,
    help="alpha for class 0 ('background'), 1 - alpha for every other class (the blog's focal).",
)
LABEL_SMOOTHING = Setting(
    "label_smoothing",
    0.0,
    low=0.0,
    high=1.0,
    tunable=True,
    search_low=0.0,
    search_high=0.3,
    help="Mix the target with the uniform distribution, as F.cross_entropy; 0 is off.",
)
LABEL_SMOOTHING_FIXED = replace(LABEL_SMOOTHING, tunable=False, search_low=None, search_high=None)
WEIGHT = Setting(
    "weight",
    None,
    low=0.0,
    kind="floats",
    optional=True,
    help="Per-class weights (C,); multiply the whole per-sample loss (Poly term included). "
    "None means 1 for every class.",
)
SIGMOID_WEIGHT = replace(
    WEIGHT,
    help="Per-class weights (C,); weight[c] scales class c's binary term, as in "
    "binary_cross_entropy_with_logits. None means 1 for every class.",
)
IGNORE_INDEX = Setting(
    "ignore_index",
    -100,
    kind="int",
    help="Index targets equal to this are ignored (no loss, no gradient, not counted by mean).",
)
REDUCTION = Setting(
    "reduction",
    "mean",
    kind="choice",
    choices=("none", "mean", "sum"),
    help="'none': per-sample losses; 'sum'; 'mean': sum / summed weights of non-ignored items.",
)
