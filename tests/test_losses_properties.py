"""Property tests of polybench.losses over random shapes, class counts, logits and targets:
finite values, non-negativity where the formula guarantees it, reductions that agree with each
other, and agreement with F.cross_entropy everywhere."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from polybench.losses import LOSSES, build_loss, functional

SETTINGS = settings(max_examples=12, deadline=None, derandomize=True)
SIGMOID = {"sigmoid_focal", "poly1_sigmoid_focal"}


@st.composite
def batches(draw, soft: bool | None = None):
    """Logits `(N, C, *spatial)`, index or soft targets, an ignore flag and class weights."""
    n = draw(st.integers(1, 5))
    c = draw(st.integers(2, 6))
    spatial = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    shape = (n, c, *spatial)
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0, 30.0]))
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(shape, generator=generator) * scale
    use_soft = draw(st.booleans()) if soft is None else soft
    if use_soft:
        target = torch.softmax(torch.randn(shape, generator=generator) * 2, dim=1)
    else:
        target = torch.randint(0, c, (n, *spatial), generator=generator)
        if draw(st.booleans()):
            target.view(-1)[1::2] = -100  # item 0 always counts, so mean is defined
    weight = None
    if draw(st.booleans()):
        weight = torch.rand(c, generator=generator).add(0.1).tolist()
    return logits, target, weight


def normalizer(name: str, target: torch.Tensor, weight: list[float] | None, num_classes: int):
    """What `mean` divides by, computed from the inputs alone (torch's conventions)."""
    if target.is_floating_point():
        return target.numel() // num_classes
    valid = target != -100
    if name in SIGMOID or weight is None:
        return valid.sum().item()
    return torch.tensor(weight)[torch.where(valid, target, 0)][valid].sum().item()


@pytest.mark.parametrize("name", list(LOSSES))
@SETTINGS
@given(batch=batches())
def test_values_are_finite_non_negative_and_reductions_agree(name, batch):
    logits, target, weight = batch
    per_sample = build_loss(name, weight=weight, reduction="none")(logits, target)
    total = build_loss(name, weight=weight, reduction="sum")(logits, target)
    mean = build_loss(name, weight=weight, reduction="mean")(logits, target)
    assert per_sample.shape == logits.shape[:1] + logits.shape[2:]
    assert torch.isfinite(per_sample).all() and torch.isfinite(total) and torch.isfinite(mean)
    # with their default settings every formula here is a sum of non-negative terms
    assert (per_sample >= 0).all()
    torch.testing.assert_close(total, per_sample.sum(), rtol=1e-5, atol=1e-6)
    count = normalizer(name, target, weight, logits.shape[1])
    torch.testing.assert_close(mean * count, total, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("poly1_cross_entropy", {"epsilon": -1.0}),
        ("polyn_cross_entropy", {"epsilons": [-1.0, -0.5, -1.0 / 3]}),
        ("poly1_focal", {"epsilon": -1.0, "gamma": 1.0}),
        ("poly1_focal", {"epsilon": -1.0, "gamma": 3.0}),
    ],
)
@SETTINGS
@given(batch=batches(soft=False))
def test_epsilon_minus_one_leaves_a_non_negative_loss(name, params, batch):
    # CE - (1 - p) = sum_{j>=2} (1 - p)^j / j >= 0; (1 - p)^gamma (-log p - (1 - p)) >= 0
    logits, target, weight = batch
    per_sample = build_loss(name, weight=weight, reduction="none", **params)(logits, target)
    assert torch.isfinite(per_sample).all()
    assert (per_sample >= -1e-6).all()


@SETTINGS
@given(
    batch=batches(),
    smoothing=st.sampled_from([0.0, 0.1, 0.5]),
    reduction=st.sampled_from(["none", "mean", "sum"]),
)
def test_cross_entropy_equals_torch_on_random_inputs(batch, smoothing, reduction):
    logits, target, weight = batch
    torch_weight = None if weight is None else torch.tensor(weight)
    ours = functional.cross_entropy(
        logits, target, weight=weight, label_smoothing=smoothing, reduction=reduction
    )
    theirs = F.cross_entropy(
        logits, target, weight=torch_weight, label_smoothing=smoothing, reduction=reduction
    )
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


@SETTINGS
@given(batch=batches(soft=False), epsilon=st.floats(-1.0, 10.0))
def test_poly1_gradient_is_softmax_minus_one_hot_scaled_per_sample(batch, epsilon):
    # d/dz [w_y (-log p_y + eps (1 - p_y))] = w_y (1 + eps p_y) (p - onehot_y)
    logits, target, weight = batch
    leaf = logits.double().requires_grad_(True)
    functional.poly1_cross_entropy(leaf, target, epsilon, weight=weight, reduction="sum").backward()
    valid = target != -100
    safe = torch.where(valid, target, 0)
    p = torch.softmax(logits.double(), dim=1)
    one_hot = F.one_hot(safe, logits.shape[1]).movedim(-1, 1).double()
    p_y = (p * one_hot).sum(1)
    w_y = torch.ones_like(p_y) if weight is None else torch.tensor(weight).double()[safe]
    scale = (w_y * (1 + epsilon * p_y) * valid).unsqueeze(1)
    torch.testing.assert_close(leaf.grad, scale * (p - one_hot))
