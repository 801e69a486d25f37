"""Specification of polybench.losses: docs/losses.md goldens, the identities of the math, torch and
torchvision agreement, gradcheck, registry-wide validation and low-precision behaviour.

References are independent of the code under test: docs/losses.md's printed values, torch's
`F.cross_entropy`, `torchvision.ops.sigmoid_focal_loss`, and float64 formulas written out densely
here (one-hot, softmax, series sums).
"""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from typer.testing import CliRunner

from polybench.losses import (
    LOSSES,
    HyperParam,
    _native,
    build_loss,
    describe_losses,
    functional,
    get_loss_class,
    validate_params,
)
from polybench.losses._autograd import target_log_softmax

NAMES = [
    "cross_entropy",
    "poly1_cross_entropy",
    "polyn_cross_entropy",
    "focal",
    "poly1_focal",
    "sigmoid_focal",
    "poly1_sigmoid_focal",
    "seed_focal",
    "seed_poly1_focal",
]
SIGMOID = {"sigmoid_focal", "poly1_sigmoid_focal"}
# Each Poly-1 loss and the base loss it must equal at epsilon = 0.
POLY1_BASE = {
    "poly1_cross_entropy": "cross_entropy",
    "poly1_focal": "focal",
    "poly1_sigmoid_focal": "sigmoid_focal",
    "seed_poly1_focal": "seed_focal",
}


def hyper(name: str) -> dict[str, HyperParam]:
    return {hp.name: hp for hp in LOSSES[name].hyperparams}


def make_inputs(
    shape: tuple[int, ...] = (6, 5),
    *,
    dtype: torch.dtype = torch.float64,
    seed: int = 0,
    ignore: bool = False,
    scale: float = 2.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = (torch.randn(shape, generator=generator, dtype=torch.float64) * scale).to(dtype)
    target_shape = shape[:1] + shape[2:]
    target = torch.randint(0, shape[1], target_shape, generator=generator)
    if ignore:
        target.view(-1)[::3] = -100
    return logits.requires_grad_(True), target


def value_and_grad(loss, logits: torch.Tensor, target: torch.Tensor):
    leaf = logits.detach().clone().requires_grad_(True)
    value = loss(leaf, target)
    value.sum().backward()
    return value.detach(), leaf.grad


# --- docs/losses.md golden values --------------------------------------------------------------

GOLDEN_LOGITS = [[2.0, 0.5, 1.0], [0.1, 1.0, 3.0]]
GOLDEN_TARGET = [1, 2]


def _doc_goldens() -> list[tuple[str, dict[str, float], list[float]]]:
    """The rows of the golden-values table in docs/losses.md: (loss, settings, expected)."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "losses.md").read_text()
    section = text.split("## Golden values", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("loss", "---"):
            continue
        settings = {}
        for pair in filter(None, (part.strip() for part in cells[1].split(","))):
            key, value = (side.strip() for side in pair.split("="))
            settings[key] = float(value)
        rows.append((cells[0], settings, json.loads(cells[2].strip("`"))))
    return rows


GOLDENS = _doc_goldens()


def test_the_golden_table_of_the_docs_is_read_whole():
    assert [name for name, _, _ in GOLDENS] == [
        "cross_entropy",
        "poly1_cross_entropy",
        "seed_focal",
        "seed_poly1_focal",
    ]
    assert GOLDENS[3][1] == {"alpha": 0.25, "gamma": 2.0, "epsilon": 1.0}


@pytest.mark.parametrize(("name", "settings", "expected"), GOLDENS, ids=[g[0] for g in GOLDENS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_golden_values_of_the_docs(name, settings, expected, dtype):
    logits = torch.tensor(GOLDEN_LOGITS, dtype=dtype)
    target = torch.tensor(GOLDEN_TARGET)
    module_value = build_loss(name, reduction="none", **settings)(logits, target)
    function_value = getattr(functional, name)(logits, target, reduction="none", **settings)
    expected_t = torch.tensor(expected, dtype=torch.float64)
    # 1e-6 relative, or half a unit of the 8th decimal where the docs print 0.00334221
    # (its float64 value is 0.0033422146, 1.4e-6 away in relative terms).
    torch.testing.assert_close(module_value.double(), expected_t, rtol=1e-6, atol=5e-9)
    torch.testing.assert_close(function_value.double(), expected_t, rtol=1e-6, atol=5e-9)


# --- the registry ------------------------------------------------------------------------------


def test_registry_holds_exactly_the_losses_of_the_docs():
    assert sorted(LOSSES) == sorted(NAMES)
    for name, cls in LOSSES.items():
        assert cls.name == name
        assert get_loss_class(name) is cls


def test_tunable_hyperparameters_follow_the_contract():
    expected = {
        "cross_entropy": {"label_smoothing"},
        "poly1_cross_entropy": {"epsilon", "label_smoothing"},
        "polyn_cross_entropy": set(),
        "focal": {"gamma"},
        "poly1_focal": {"epsilon", "gamma"},
        "sigmoid_focal": {"gamma", "alpha"},
        "poly1_sigmoid_focal": {"epsilon", "gamma", "alpha"},
        "seed_focal": {"gamma", "alpha"},
        "seed_poly1_focal": {"epsilon", "gamma", "alpha"},
    }
    for name, tunable in expected.items():
        hps = LOSSES[name].hyperparams
        assert {hp.name for hp in hps if hp.tunable} == tunable, name
        for hp in hps:
            assert hp.help, (name, hp.name)
            if hp.tunable:  # a search range inside the valid range
                assert hp.search_low is not None and hp.search_high is not None
                assert hp.search_low < hp.search_high
                assert hp.low is None or hp.search_low >= hp.low
                assert hp.high is None or hp.search_high <= hp.high
                assert hp.clean(name, hp.search_low) is not None


def test_defaults_follow_the_paper_and_torch():
    for name in NAMES:
        hps = hyper(name)
        assert hps["reduction"].default == "mean"
        assert hps["ignore_index"].default == -100
        if "epsilon" in hps:
            assert hps["epsilon"].default == 1.0
            assert hps["epsilon"].low == -1.0
        if "gamma" in hps:
            assert hps["gamma"].default == 2.0
    assert hyper("sigmoid_focal")["alpha"].default == 0.25
    assert hyper("seed_focal")["alpha"].default == 0.25
    assert hyper("focal")["alpha"].default is None


@pytest.mark.parametrize("name", NAMES)
def test_every_loss_builds_with_defaults_and_returns_a_finite_scalar(name):
    loss = build_loss(name)
    logits, target = make_inputs((5, 4), dtype=torch.float32)
    value = loss(logits, target)
    assert value.shape == ()
    assert value.dtype == torch.float32
    assert torch.isfinite(value)
    value.backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad.abs().sum() > 0


@pytest.mark.parametrize("name", NAMES)
def test_functional_defaults_match_the_declarations(name):
    signature = inspect.signature(getattr(functional, name))
    parameters = dict(list(signature.parameters.items())[2:])
    declared = hyper(name)
    assert set(parameters) == set(declared)
    for key, parameter in parameters.items():
        assert parameter.default == declared[key].default, (name, key)


@pytest.mark.parametrize("name", NAMES)
def test_functional_equals_module(name):
    logits, target = make_inputs((7, 4, 3), ignore=True)
    params = {"weight": [0.5, 1.0, 2.0, 0.25], "reduction": "sum"}
    if "gamma" in hyper(name):
        params["gamma"] = 1.5
    module_value, module_grad = value_and_grad(build_loss(name, **params), logits, target)
    function_value, function_grad = value_and_grad(
        lambda z, y: getattr(functional, name)(z, y, **params), logits, target
    )
    torch.testing.assert_close(module_value, function_value)
    torch.testing.assert_close(module_grad, function_grad)


@pytest.mark.parametrize("name", NAMES)
def test_a_module_called_twice_gives_the_same_answer(name):
    alpha = hyper(name).get("alpha")
    params = {}
    if alpha is not None:  # a value other than the default, so a mutated alpha would show
        params["alpha"] = [0.4, 0.1, 0.9, 0.6] if alpha.kind == "floats" else 0.4
    loss = build_loss(name, **params)
    before = loss.params()
    logits, target = make_inputs((6, 4), seed=3)
    first = loss(logits, target)
    second = loss(logits, target)
    assert torch.equal(first, second)
    assert loss.params() == before


# --- validation messages -----------------------------------------------------------------------


def _assert_names(error: pytest.ExceptionInfo, *parts: str) -> None:
    message = str(error.value)
    for part in parts:
        assert part in message, (part, message)


@pytest.mark.parametrize("name", [n for n in NAMES if "gamma" in hyper(n)])
def test_negative_gamma_is_rejected_naming_loss_param_value_and_range(name):
    with pytest.raises(ValueError) as error:
        build_loss(name, gamma=-0.5)
    _assert_names(error, name, "gamma", "-0.5", ">= 0")
    with pytest.raises(ValueError):
        validate_params(name, {"gamma": -0.5})


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", ["2", True, float("nan"), [1.0]])
def test_wrong_types_are_rejected_for_every_scalar_hyperparameter(name, bad):
    for hp in LOSSES[name].hyperparams:
        if hp.kind != "float":
            continue
        with pytest.raises(ValueError) as error:
            build_loss(name, **{hp.name: bad})
        _assert_names(error, name, hp.name, repr(bad), "allowed")


@pytest.mark.parametrize("name", NAMES)
def test_bad_reduction_and_ignore_index_are_rejected(name):
    with pytest.raises(ValueError) as error:
        build_loss(name, reduction="avg")
    _assert_names(error, name, "reduction", "'avg'", "'none', 'mean', 'sum'")
    with pytest.raises(ValueError) as error:
        build_loss(name, ignore_index=1.5)
    _assert_names(error, name, "ignore_index", "1.5", "integer")


@pytest.mark.parametrize("name", NAMES)
def test_bad_weights_are_rejected(name):
    for bad in ([1.0, -1.0], [], "abc", torch.ones(2, 2), [1.0, float("inf")]):
        with pytest.raises(ValueError) as error:
            build_loss(name, weight=bad)
        _assert_names(error, name, "weight", "allowed")
    loss = build_loss(name, weight=[1.0, 2.0])
    logits, target = make_inputs((4, 3))
    with pytest.raises(ValueError) as error:
        loss(logits, target)
    _assert_names(error, name, "weight", "3 classes")


def test_epsilon_below_minus_one_and_label_smoothing_above_one_are_rejected():
    with pytest.raises(ValueError) as error:
        build_loss("poly1_cross_entropy", epsilon=-1.5)
    _assert_names(error, "poly1_cross_entropy", "epsilon", "-1.5", ">= -1")
    with pytest.raises(ValueError) as error:
        functional.poly1_cross_entropy(*make_inputs(), label_smoothing=1.2)
    _assert_names(error, "poly1_cross_entropy", "label_smoothing", "1.2", "[0, 1]")
    with pytest.raises(ValueError) as error:
        build_loss("polyn_cross_entropy", epsilons=[1.0, "x"])
    _assert_names(error, "polyn_cross_entropy", "epsilons", "list of finite numbers")


def test_unknown_loss_name_suggests_the_closest_names():
    with pytest.raises(ValueError) as error:
        build_loss("poly1_crossentropy")
    _assert_names(error, "'poly1_crossentropy'", "Did you mean 'poly1_cross_entropy'", "focal")
    with pytest.raises(ValueError) as error:
        get_loss_class("sigmoid_focall")
    _assert_names(error, "Did you mean 'sigmoid_focal'")
    with pytest.raises(ValueError) as error:
        validate_params("xyz", {})
    _assert_names(error, "Unknown loss 'xyz'", "cross_entropy")


def test_unknown_parameter_suggests_the_closest_parameter():
    with pytest.raises(ValueError) as error:
        build_loss("poly1_focal", epsilom=1.0)
    _assert_names(error, "poly1_focal", "'epsilom'", "Did you mean 'epsilon'", "gamma")
    with pytest.raises(ValueError) as error:
        validate_params("cross_entropy", {"gamma": 2.0})
    _assert_names(error, "cross_entropy", "'gamma'", "label_smoothing")


def test_validate_params_returns_the_cleaned_given_params():
    cleaned = validate_params("poly1_focal", {"epsilon": 2, "gamma": np.float32(1.5)})
    assert cleaned == {"epsilon": 2.0, "gamma": 1.5}
    assert type(cleaned["epsilon"]) is float
    assert validate_params("sigmoid_focal", {"alpha": -1}) == {"alpha": None}
    assert validate_params("focal", {"alpha": (1, 2)}) == {"alpha": [1.0, 2.0]}


def test_target_shape_errors_name_the_loss_and_the_shapes():
    logits = torch.randn(4, 3)
    with pytest.raises(ValueError) as error:
        build_loss("poly1_cross_entropy")(logits, torch.zeros(5, dtype=torch.long))
    _assert_names(error, "poly1_cross_entropy", "(4,)", "(5,)")
    with pytest.raises(ValueError) as error:
        build_loss("sigmoid_focal")(logits, torch.zeros(4, 2))
    _assert_names(error, "sigmoid_focal", "(4, 3)", "(4, 2)")
    with pytest.raises(ValueError) as error:
        build_loss("focal")(torch.randn(4), torch.zeros(4, dtype=torch.long))
    _assert_names(error, "focal", "(N, C)")


# --- identities ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(POLY1_BASE))
@pytest.mark.parametrize("targets", ["index", "soft"])
def test_poly1_with_epsilon_zero_is_its_base_loss(name, targets):
    assert {n for n in NAMES if "epsilon" in hyper(n)} == set(POLY1_BASE)
    logits, target = make_inputs((5, 4, 2), ignore=True, seed=1)
    if targets == "soft":
        target = torch.softmax(torch.randn(5, 4, 2, dtype=torch.float64), dim=1)
    params = {"weight": [0.3, 1.0, 2.0, 0.7], "reduction": "mean"}
    if "gamma" in hyper(name):
        params["gamma"] = 1.5
    base = POLY1_BASE[name]
    poly_value, poly_grad = value_and_grad(build_loss(name, epsilon=0.0, **params), logits, target)
    base_value, base_grad = value_and_grad(build_loss(base, **params), logits, target)
    torch.testing.assert_close(poly_value, base_value)
    torch.testing.assert_close(poly_grad, base_grad)


def test_polyn_with_zero_coefficients_is_cross_entropy_and_one_term_is_poly1():
    logits, target = make_inputs((6, 5), ignore=True)
    ce = value_and_grad(build_loss("cross_entropy", label_smoothing=0.1), logits, target)
    polyn = value_and_grad(
        build_loss("polyn_cross_entropy", epsilons=[0.0, 0.0], label_smoothing=0.1), logits, target
    )
    torch.testing.assert_close(polyn, ce)
    poly1 = value_and_grad(build_loss("poly1_cross_entropy", epsilon=2.5), logits, target)
    polyn1 = value_and_grad(build_loss("polyn_cross_entropy", epsilons=[2.5]), logits, target)
    torch.testing.assert_close(polyn1, poly1)


CE_CASES = {
    "plain": ({}, (8, 5), False),
    "weight": ({"weight": [0.2, 1.0, 3.0, 0.5, 1.5]}, (8, 5), False),
    "ignore": ({}, (8, 5), True),
    "ignore_index_3": ({"ignore_index": 3}, (8, 5), False),
    "smoothing": ({"label_smoothing": 0.2}, (8, 5), False),
    "all": ({"label_smoothing": 0.1, "weight": [0.2, 1.0, 3.0, 0.5, 1.5]}, (8, 5), True),
    "segmentation": ({"weight": [0.2, 1.0, 3.0, 0.5, 1.5]}, (2, 5, 3, 4), True),
    "segmentation_3d": ({"label_smoothing": 0.05}, (2, 5, 2, 3, 2), True),
}


@pytest.mark.parametrize("case", list(CE_CASES))
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_cross_entropy_equals_torch(case, reduction):
    params, shape, ignore = CE_CASES[case]
    logits, target = make_inputs(shape, ignore=ignore, seed=2)
    torch_params = dict(params)
    if "weight" in torch_params:
        torch_params["weight"] = torch.tensor(torch_params["weight"], dtype=torch.float64)
    ours = value_and_grad(
        build_loss("cross_entropy", reduction=reduction, **params), logits, target
    )
    theirs = value_and_grad(
        lambda z, y: F.cross_entropy(z, y, reduction=reduction, **torch_params), logits, target
    )
    torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_equals_torch_for_soft_targets(reduction, smoothing, weighted):
    logits, _ = make_inputs((6, 4, 3), seed=4)
    target = torch.softmax(torch.randn(6, 4, 3, dtype=torch.float64) * 2, dim=1)
    weight = [0.5, 2.0, 1.0, 0.1] if weighted else None
    torch_weight = None if weight is None else torch.tensor(weight, dtype=torch.float64)
    ours = value_and_grad(
        build_loss("cross_entropy", reduction=reduction, label_smoothing=smoothing, weight=weight),
        logits,
        target,
    )
    theirs = value_and_grad(
        lambda z, y: F.cross_entropy(
            z, y, reduction=reduction, label_smoothing=smoothing, weight=torch_weight
        ),
        logits,
        target,
    )
    torch.testing.assert_close(ours, theirs)


def dense_poly1_reference(logits, target, epsilon, weight, ignore_index=-100, smoothing=0.0):
    """Float64 Poly-1 CE written out with a dense one-hot: the per-sample values and the mean."""
    z = logits.detach().double()
    num_classes = z.shape[1]
    valid = target != ignore_index
    safe = torch.where(valid, target, 0)
    one_hot = F.one_hot(safe, num_classes).double().movedim(-1, 1)
    q = one_hot * (1 - smoothing) + smoothing / num_classes
    w = torch.ones(num_classes, dtype=torch.float64) if weight is None else torch.tensor(weight)
    w = w.view((1, -1) + (1,) * (z.dim() - 2)).double()
    p = torch.softmax(z, dim=1)
    ce = -(w * q * torch.log(p)).sum(1)
    pt = (q * p).sum(1)
    sample_weight = (w * q).sum(1)
    per_sample = (ce + epsilon * sample_weight * (1 - pt)) * valid
    w_y = (w * one_hot).sum(1) * valid
    return per_sample, per_sample.sum() / w_y.sum()


@pytest.mark.parametrize("epsilon", [-1.0, 0.5, 2.0])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_poly1_cross_entropy_matches_a_dense_float64_reference(epsilon, smoothing):
    weight = [0.5, 2.0, 1.0, 0.1, 3.0]
    logits, target = make_inputs((4, 5, 3), ignore=True, seed=5)
    per_sample_ref, mean_ref = dense_poly1_reference(
        logits, target, epsilon, weight, -100, smoothing
    )
    loss = build_loss(
        "poly1_cross_entropy", epsilon=epsilon, weight=weight, label_smoothing=smoothing
    )
    torch.testing.assert_close(loss(logits, target), mean_ref)
    per_sample = functional.poly1_cross_entropy(
        logits,
        target,
        epsilon,
        weight=weight,
        label_smoothing=smoothing,
        reduction="none",
    )
    torch.testing.assert_close(per_sample, per_sample_ref)


def test_weight_multiplies_the_poly_term_so_epsilon_minus_one_cancels_the_leading_term():
    weight = [0.5, 2.0, 1.0]
    logits, target = make_inputs((9, 3), seed=6)
    per_sample = functional.poly1_cross_entropy(
        logits, target, -1.0, weight=weight, reduction="none"
    )
    p_t = torch.softmax(logits.detach(), 1).gather(1, target[:, None]).squeeze(1)
    tail = -torch.log(p_t) - (1 - p_t)  # sum_{j>=2} (1 - p_t)^j / j
    torch.testing.assert_close(per_sample, torch.tensor(weight, dtype=torch.float64)[target] * tail)


@pytest.mark.parametrize("horizon", [1, 2, 5])
def test_polyn_tail_identity_against_a_float64_series(horizon):
    logits, target = make_inputs((12, 4), scale=1.0, seed=7)
    epsilons = [-1.0 / j for j in range(1, horizon + 1)]
    values = functional.polyn_cross_entropy(logits, target, epsilons, reduction="none")
    p_t = torch.softmax(logits.detach(), 1).gather(1, target[:, None]).squeeze(1).numpy()
    assert p_t.min() > 0.01  # so 4000 terms of the series converge far below tolerance
    j = np.arange(horizon + 1, 4000, dtype=np.float64)
    series = ((1 - p_t[:, None]) ** j[None, :] / j[None, :]).sum(1)
    np.testing.assert_allclose(values.detach().numpy(), series, rtol=1e-9, atol=1e-12)


def test_polyn_tail_shrinks_towards_zero_as_n_grows():
    logits, target = make_inputs((12, 4), scale=1.0, seed=8)
    logits = logits.detach() + 3.0 * F.one_hot(target, 4)  # p_t mostly above 1/2
    means = [
        functional.polyn_cross_entropy(logits, target, [-1.0 / j for j in range(1, n + 1)]).item()
        for n in (1, 2, 4, 8, 16, 32)
    ]
    assert all(a > b for a, b in itertools.pairwise(means))
    assert means[-1] < 1e-2 * means[0]


@pytest.mark.parametrize("variant", ["plain", "weight_smoothing_ignore", "soft"])
def test_focal_with_gamma_zero_is_cross_entropy(variant):
    logits, target = make_inputs((6, 4, 3), ignore=variant != "plain", seed=9)
    params = {}
    if variant == "weight_smoothing_ignore":
        params = {"weight": [1.0, 0.5, 2.0, 0.3], "label_smoothing": 0.1}
    if variant == "soft":
        target = torch.softmax(torch.randn(6, 4, 3, dtype=torch.float64), dim=1)
    focal = value_and_grad(build_loss("focal", gamma=0.0, **params), logits, target)
    ce = value_and_grad(build_loss("cross_entropy", **params), logits, target)
    torch.testing.assert_close(focal, ce)
    poly1_focal = value_and_grad(
        build_loss("poly1_focal", gamma=0.0, epsilon=1.5, **params), logits, target
    )
    poly1_ce = value_and_grad(
        build_loss("poly1_cross_entropy", epsilon=1.5, **params), logits, target
    )
    torch.testing.assert_close(poly1_focal, poly1_ce)


@pytest.mark.parametrize("gamma", [0.5, 2.0, 3.0])
def test_softmax_focal_and_poly1_focal_match_a_float64_reference(gamma):
    alpha = [0.25, 0.5, 0.75, 1.0]
    weight = [2.0, 1.0, 0.5, 1.0]
    logits, target = make_inputs((10, 4), ignore=True, seed=10)
    valid = target != -100
    safe = torch.where(valid, target, 0)
    p_t = torch.softmax(logits.detach(), 1).gather(1, safe[:, None]).squeeze(1)
    w = torch.tensor(weight, dtype=torch.float64)[safe] * valid
    a = torch.tensor(alpha, dtype=torch.float64)[safe]
    focal_ref = -w * a * (1 - p_t) ** gamma * torch.log(p_t)
    poly_ref = focal_ref + 0.7 * w * (1 - p_t) ** (gamma + 1)
    focal = functional.focal(logits, target, gamma, alpha=alpha, weight=weight, reduction="none")
    poly = functional.poly1_focal(
        logits, target, 0.7, gamma, alpha=alpha, weight=weight, reduction="none"
    )
    torch.testing.assert_close(focal, focal_ref)
    torch.testing.assert_close(poly, poly_ref)
    torch.testing.assert_close(
        functional.focal(logits, target, gamma, alpha=alpha, weight=weight),
        focal_ref.sum() / w.sum(),
    )


SIGMOID_CASES = {
    "index": ((7, 4), "index", {}),
    "multi_hot": ((7, 4), "multi_hot", {}),
    "soft": ((7, 4), "soft", {}),
    "no_alpha": ((7, 4), "multi_hot", {"alpha": None}),
    "gamma_half": ((7, 4), "index", {"gamma": 0.5, "alpha": 0.6}),
    "gamma_zero": ((7, 4), "multi_hot", {"gamma": 0.0}),
    "segmentation": ((3, 4, 2, 5), "index", {}),
}


@pytest.mark.parametrize("case", list(SIGMOID_CASES))
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_sigmoid_focal_equals_torchvision_summed_over_classes(case, reduction):
    shape, kind, params = SIGMOID_CASES[case]
    logits, index = make_inputs(shape, seed=11)
    generator = torch.Generator().manual_seed(12)
    if kind == "index":
        target, dense = index, F.one_hot(index, shape[1]).movedim(-1, 1).double()
    elif kind == "multi_hot":
        dense = (torch.rand(shape, generator=generator) < 0.4).double()
        target = dense
    else:
        dense = torch.rand(shape, generator=generator, dtype=torch.float64)
        target = dense
    gamma = params.get("gamma", 2.0)
    alpha = params.get("alpha", 0.25)
    ours = value_and_grad(
        build_loss("sigmoid_focal", reduction=reduction, **params), logits, target
    )

    def torchvision_loss(z, _):
        per_class = torchvision.ops.sigmoid_focal_loss(
            z, dense, alpha=-1 if alpha is None else alpha, gamma=gamma, reduction="none"
        )
        per_sample = per_class.sum(1)
        if reduction == "none":
            return per_sample
        return per_sample.sum() if reduction == "sum" else per_sample.mean()

    theirs = value_and_grad(torchvision_loss, logits, target)
    torch.testing.assert_close(ours, theirs)


def test_poly1_sigmoid_focal_matches_torchvision_plus_the_poly_term():
    logits, target = make_inputs((8, 5), seed=13, ignore=True)
    weight = [1.0, 2.0, 0.5, 1.0, 0.25]
    valid = target != -100
    dense = F.one_hot(torch.where(valid, target, 0), 5).double()
    z = logits.detach()
    focal = torchvision.ops.sigmoid_focal_loss(z, dense, alpha=0.3, gamma=1.5)
    s = torch.sigmoid(z)
    p_t = s * dense + (1 - s) * (1 - dense)
    per_class = (focal - 0.8 * (1 - p_t) ** 2.5) * torch.tensor(weight, dtype=torch.float64)
    per_sample_ref = per_class.sum(1) * valid
    per_sample = functional.poly1_sigmoid_focal(
        logits, target, -0.8, 1.5, alpha=0.3, weight=weight, reduction="none"
    )
    torch.testing.assert_close(per_sample, per_sample_ref)
    mean = functional.poly1_sigmoid_focal(logits, target, -0.8, 1.5, alpha=0.3, weight=weight)
    torch.testing.assert_close(mean, per_sample_ref.sum() / valid.sum())


def test_seed_poly1_focal_with_soft_one_hot_targets_equals_index_targets():
    logits, target = make_inputs((6, 4), seed=14)
    one_hot = F.one_hot(target, 4).double()
    for name in ("seed_focal", "seed_poly1_focal", "poly1_focal", "polyn_cross_entropy"):
        loss = build_loss(name, reduction="none")
        torch.testing.assert_close(loss(logits, one_hot), loss(logits, target))


# --- gradcheck --------------------------------------------------------------------------------


@pytest.mark.parametrize("smooth", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 2, 2)])
def test_target_log_softmax_function_passes_gradcheck(smooth, weighted, shape):
    logits, target = make_inputs(shape, seed=15)
    valid = torch.ones_like(target, dtype=torch.bool)
    valid.view(-1)[1] = False
    weight = torch.tensor([0.5, 2.0, 1.5], dtype=torch.float64) if weighted else None

    def both_outputs(z):
        log_pt, log_sum = target_log_softmax(z, target, valid, weight, smooth, torch.float64)
        return (log_pt, log_sum) if smooth else log_pt

    assert torch.autograd.gradcheck(both_outputs, (logits,))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("targets", ["index", "soft"])
def test_every_loss_passes_gradcheck_in_float64(name, targets):
    logits, target = make_inputs((3, 4, 2), ignore=targets == "index", seed=16)
    if targets == "soft":
        target = torch.softmax(torch.randn(3, 4, 2, dtype=torch.float64), dim=1)
    params = {"weight": [0.5, 1.0, 2.0, 1.5]}
    if "gamma" in hyper(name):
        params["gamma"] = 1.5
    if "label_smoothing" in hyper(name) and targets == "index":
        params["label_smoothing"] = 0.1
    loss = build_loss(name, reduction="none", **params)
    assert torch.autograd.gradcheck(lambda z: loss(z, target), (logits,), fast_mode=True)


# --- precision ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_inputs_give_finite_values_in_the_input_dtype(name, dtype):
    logits32, target = make_inputs((16, 6), dtype=torch.float32, seed=17, ignore=True)
    logits = logits32.detach().to(dtype).requires_grad_(True)
    loss = build_loss(name, reduction="none")
    value = loss(logits, target)
    assert value.dtype == dtype
    value.sum().backward()
    assert logits.grad.dtype == dtype
    assert torch.isfinite(value).all() and torch.isfinite(logits.grad).all()
    # computed in float32 inside: equal to the float32 loss of the rounded logits, rounded once
    reference = loss(logits.detach().float(), target)
    torch.testing.assert_close(value.float(), reference.to(dtype).float())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_logits_of_magnitude_1e4_give_finite_values_and_gradients(name, dtype):
    generator = torch.Generator().manual_seed(18)
    signs = torch.randint(0, 2, (8, 5, 3), generator=generator) * 2 - 1
    logits = (signs * 1e4).to(dtype).requires_grad_(True)
    target = torch.randint(0, 5, (8, 3), generator=generator)
    params = {"gamma": 0.5} if "gamma" in hyper(name) else {}
    value = build_loss(name, reduction="none", **params)(logits, target)
    value.sum().backward()
    assert torch.isfinite(value).all(), value
    assert torch.isfinite(logits.grad).all()
    assert (value.float() >= 0).all()


def test_cross_entropy_follows_torch_at_large_logits_in_float32():
    logits, target = make_inputs((8, 5), dtype=torch.float32, scale=1e4, seed=19)
    ours = value_and_grad(build_loss("cross_entropy"), logits, target)
    theirs = value_and_grad(F.cross_entropy, logits, target)
    torch.testing.assert_close(ours, theirs)


# --- CLI ---------------------------------------------------------------------------------------


def test_polybench_losses_lists_every_loss_with_its_hyperparameters():
    from polybench.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["losses", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [row["name"] for row in listed] == list(LOSSES)
    assert listed == describe_losses()
    for row in listed:
        declared = LOSSES[row["name"]].hyperparams
        assert [hp["name"] for hp in row["hyperparams"]] == [hp.name for hp in declared]
        assert [hp["tunable"] for hp in row["hyperparams"]] == [hp.tunable for hp in declared]
    table = runner.invoke(app, ["losses"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    for name in LOSSES:
        assert name in table.output
    assert "[-1, inf)" in table.output  # epsilon's valid range


def test_readme_losses_example_runs():
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- SECTION: losses -->", 1)[1].split("<!-- SECTION:", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "README.md (losses)", "exec"), namespace)
    assert namespace["value"].shape == ()
    assert namespace["logits"].grad is not None


# --- the short path for small batches -----------------------------------------------------------
# Int64 targets, float32/64 logits, no smoothing and no focal alpha take a path built from torch
# ops (`F.nll_loss` over a per-class form); larger inputs and every other case take the fused
# kernel. Both must give the same values and gradients.

SHORT_PATH_LOSSES = {
    "poly1_cross_entropy": ("poly1_cross_entropy", {"epsilon": 1.7}),
    "polyn_cross_entropy": ("polyn_cross_entropy", {"epsilons": [0.5, -0.3, 0.2]}),
    "focal": ("focal", {"gamma": 2.0}),  # the default gamma has a form of its own
    "focal_gamma_3": ("focal", {"gamma": 3.0}),
    "poly1_focal": ("poly1_focal", {"gamma": 1.5, "epsilon": -0.6}),
    "poly1_focal_gamma_2": ("poly1_focal", {"gamma": 2.0, "epsilon": 1.3}),
}


def took_short_path(value: torch.Tensor) -> bool:
    """Whether torch's nll_loss (directly, or under the view K-dim inputs add) or the compiled
    kernel made `value`."""
    node = value.grad_fn
    if node.name().startswith("View"):
        node = node.next_functions[0][0]
    return node.name().startswith("NllLoss") or took_kernel(value)


def took_kernel(value: torch.Tensor) -> bool:
    """Whether polybench's compiled kernel (`_native.cpp`) made `value`."""
    return "SoftmaxFamily" in value.grad_fn.name()


@pytest.fixture(params=["eager", "compiled"])
def short_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test on the short path's eager ops, then on the compiled kernel (2-D inputs)."""
    if request.param == "compiled":
        request.getfixturevalue("native_kernel")
        yield request.param
        return
    with _native.eager_only():
        yield request.param


def expect_short_path(loss, logits: torch.Tensor, target: torch.Tensor, short_path: str) -> None:
    """`loss` takes the short path: the compiled kernel on the compiled run, for 2-D logits and
    a setting it computes, torch's ops otherwise."""
    value = loss(logits, target)
    assert took_short_path(value)
    form = loss._short
    kernel = short_path == "compiled" and logits.dim() == 2 and form.kernel is not None
    assert took_kernel(value) == kernel


def general_path(monkeypatch, loss, logits, target):
    from polybench.losses import _softmax

    with monkeypatch.context() as patch:
        patch.setattr(_softmax, "DENSE_MAX_NUMEL", 0)
        assert not took_short_path(loss(logits, target))
        return value_and_grad(loss, logits, target)


@pytest.mark.parametrize("case", sorted(SHORT_PATH_LOSSES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(9, 5), (4, 5, 3)])
def test_short_path_equals_the_fused_kernel(
    monkeypatch, short_path, case, reduction, weighted, shape
):
    logits, target = make_inputs(shape, ignore=True, seed=21)
    name, params = SHORT_PATH_LOSSES[case]
    loss = build_loss(name, reduction=reduction, **params)
    if weighted:
        loss.weight = torch.tensor([0.5, 2.0, 1.0, 0.1, 3.0], dtype=torch.float64)
    short = value_and_grad(loss, logits, target)
    expect_short_path(loss, logits, target, short_path)
    general = general_path(monkeypatch, loss, logits, target)
    torch.testing.assert_close(short, general)


@pytest.mark.parametrize("case", sorted(SHORT_PATH_LOSSES))
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("shape", [(5, 4, 2), (7, 4)])
def test_short_path_passes_gradcheck_in_float64(short_path, case, reduction, shape):
    logits, target = make_inputs(shape, ignore=True, seed=22)
    name, params = SHORT_PATH_LOSSES[case]
    loss = build_loss(name, reduction=reduction, **params)
    loss.weight = torch.tensor([0.5, 2.0, 1.0, 1.5], dtype=torch.float64)
    expect_short_path(loss, logits, target, short_path)
    assert torch.autograd.gradcheck(lambda z: loss(z, target), (logits,))
    assert torch.autograd.gradgradcheck(lambda z: loss(z, target), (logits,))


@pytest.mark.parametrize(
    ("name", "built", "changes"),
    [
        ("poly1_cross_entropy", {"epsilon": 1.0}, {"epsilon": -0.5}),
        ("polyn_cross_entropy", {"epsilons": [1.0]}, {"epsilons": (0.5, 0.25)}),
        ("focal", {"gamma": 2.0}, {"gamma": 0.5}),
        ("poly1_focal", {"epsilon": 1.0}, {"epsilon": 2.0, "gamma": 3.0}),
        ("poly1_cross_entropy", {}, {"label_smoothing": 0.2}),
        ("focal", {}, {"alpha": torch.tensor([0.5, 2.0, 1.0, 0.1, 3.0], dtype=torch.float64)}),
    ],
)
def test_a_reassigned_setting_is_honoured_on_the_short_path(short_path, name, built, changes):
    # A module builds its short path's per-class form once; reassigning a setting rebuilds it
    # (or, for smoothing and alpha, turns the short path off).
    logits, target = make_inputs((6, 5), ignore=True, seed=24)
    loss = build_loss(name, **built)
    loss(logits, target)
    for key, value in changes.items():
        setattr(loss, key, value)
    fresh = build_loss(name, **{**built, **changes})
    torch.testing.assert_close(
        value_and_grad(loss, logits, target), value_and_grad(fresh, logits, target)
    )
    assert took_short_path(loss(logits, target)) == took_short_path(fresh(logits, target))


def test_large_inputs_take_the_fused_kernel_and_cross_entropy_is_torchs():
    logits, target = make_inputs((300, 300), dtype=torch.float32, seed=23)
    poly1 = build_loss("poly1_cross_entropy")(logits, target)
    assert not took_short_path(poly1)
    ce = build_loss("cross_entropy")(logits, target)
    torch.testing.assert_close(ce, F.cross_entropy(logits, target), rtol=0, atol=0)


def test_short_path_shape_errors_still_name_the_loss():
    with pytest.raises(ValueError) as error:
        build_loss("focal")(torch.randn(4, 3), torch.zeros(4, 2, dtype=torch.long))
    _assert_names(error, "focal", "(4,)", "(4, 2)")
    with pytest.raises(ValueError) as error:
        build_loss("cross_entropy")(torch.randn(4, 3), torch.zeros(5, dtype=torch.long))
    _assert_names(error, "cross_entropy", "(4,)", "(5,)")


# Where the short path's forms are most likely to lose precision: p_t near 1 (1 - p_t far below
# the float32 epsilon), p_t near 0, logits of magnitude 1e4, every row alike, and the settings
# whose forms are special-cased (gamma 0, 1, 2 and fractional; epsilon 0 and -1). In float64 the
# short path must agree with the fused kernel in value and gradient, and in float32 with the
# float64 value.
EDGE_SETTINGS = {
    "poly1_eps_minus_one": ("poly1_cross_entropy", {"epsilon": -1.0}),
    "poly1_eps_zero": ("poly1_cross_entropy", {"epsilon": 0.0}),
    "poly1_eps_two": ("poly1_cross_entropy", {"epsilon": 2.0}),
    "polyn": ("polyn_cross_entropy", {"epsilons": [-1.0, -0.5]}),
    "polyn_one_term": ("polyn_cross_entropy", {"epsilons": [1.0]}),
    "focal_gamma_0": ("focal", {"gamma": 0.0}),
    "focal_gamma_1": ("focal", {"gamma": 1.0}),
    "focal_gamma_half": ("focal", {"gamma": 0.5}),
    "focal_gamma_2": ("focal", {"gamma": 2.0}),
    "poly1_focal_gamma_0": ("poly1_focal", {"gamma": 0.0, "epsilon": 1.5}),
    "poly1_focal_gamma_2": ("poly1_focal", {"gamma": 2.0, "epsilon": -1.0}),
}


def edge_logits(kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits `(12, 5)` in float64 and index targets for one of the edge cases."""
    generator = torch.Generator().manual_seed(25)
    target = torch.randint(0, 5, (12,), generator=generator)
    one_hot = F.one_hot(target, 5).double()
    noise = torch.randn(12, 5, generator=generator, dtype=torch.float64)
    logits = {
        "p_t_near_1": 40.0 * one_hot + 0.1 * noise,  # 1 - p_t about 1e-17
        "p_t_near_0": -40.0 * one_hot + 0.1 * noise,
        "magnitude_1e4": 1e4 * torch.sign(noise),
        "uniform": torch.zeros(12, 5, dtype=torch.float64),
    }[kind]
    return logits.requires_grad_(True), target


@pytest.mark.parametrize("setting", sorted(EDGE_SETTINGS))
@pytest.mark.parametrize("kind", ["p_t_near_1", "p_t_near_0", "magnitude_1e4", "uniform"])
def test_short_path_at_the_edges_equals_the_fused_kernel(monkeypatch, short_path, setting, kind):
    name, params = EDGE_SETTINGS[setting]
    logits, target = edge_logits(kind)
    loss = build_loss(name, reduction="none", **params)
    expect_short_path(loss, logits, target, short_path)
    value, grad = value_and_grad(loss, logits, target)
    assert torch.isfinite(value).all() and torch.isfinite(grad).all()
    torch.testing.assert_close((value, grad), general_path(monkeypatch, loss, logits, target))
    value32, grad32 = value_and_grad(loss, logits.detach().float(), target)
    torch.testing.assert_close(value32.double(), value, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad32.double(), grad, rtol=1e-5, atol=1e-6)
