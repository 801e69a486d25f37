"""The compiled CPU kernel of the softmax family's short path (`polybench/losses/_native.cpp`).

Its values and gradients are checked against a float64 computation on the eager path, in
float32 against the float64 value at least as closely as the eager path gets, at the edges
(p_t near 0 and 1, logits of 1e4, every sample ignored, no samples), for every reduction, with
and without class weights; double backward against the eager path; and how it is found, turned
off and refused. `tests/test_losses.py` runs its short-path tests on both paths as well.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from typer.testing import CliRunner

from polybench.cli import app
from polybench.losses import _native, build_loss

# (loss, settings, gamma, eps) for every setting the kernel computes.
SETTINGS = [
    ("poly1_cross_entropy", {"epsilon": 1.0}, 0.0, 1.0),
    ("poly1_cross_entropy", {"epsilon": -1.0}, 0.0, -1.0),
    ("poly1_cross_entropy", {"epsilon": 0.0}, 0.0, 0.0),
    ("polyn_cross_entropy", {"epsilons": [2.0]}, 0.0, 2.0),
    ("focal", {"gamma": 2.0}, 2.0, 0.0),
    ("focal", {"gamma": 0.5}, 0.5, 0.0),
    ("focal", {"gamma": 1.0}, 1.0, 0.0),
    ("focal", {"gamma": 3.0}, 3.0, 0.0),
    ("poly1_focal", {"gamma": 2.0, "epsilon": -1.0}, 2.0, -1.0),
    ("poly1_focal", {"gamma": 1.5, "epsilon": 2.0}, 1.5, 2.0),
]
IDS = [f"{name}-{'-'.join(f'{k}{v}' for k, v in params.items())}" for name, params, *_ in SETTINGS]


def inputs(kind: str, n: int = 64, c: int = 10, seed: int = 0):
    """float64 logits (n, c) and targets (a few ignored) for one case."""
    generator = torch.Generator().manual_seed(seed)
    target = torch.randint(0, c, (n,), generator=generator)
    noise = torch.randn(n, c, generator=generator, dtype=torch.float64)
    one_hot = F.one_hot(target, c).double()
    logits = {
        "normal": 3.0 * noise,
        "p_t_near_1": 40.0 * one_hot + 0.1 * noise,
        "p_t_near_0": -40.0 * one_hot + 0.1 * noise,
        "magnitude_1e4": 1e4 * noise,
        "uniform": torch.zeros(n, c, dtype=torch.float64),
    }[kind]
    target[::7] = -100
    return logits, target


def value_and_grad(fn, logits, target, upstream=None):
    leaf = logits.detach().clone().requires_grad_(True)
    value = fn(leaf, target)
    value.backward(torch.ones_like(value) if upstream is None else upstream.to(value.dtype))
    return value.detach(), leaf.grad


def eager(loss):
    def run(logits, target):
        with _native.eager_only():
            return loss(logits, target)

    return run


def kernel_call(native, gamma, eps, weight, reduction):
    def run(logits, target):
        w = None if weight is None else weight.to(logits.dtype)
        return native.softmax_family(logits, target, w, gamma, eps, -100, reduction)

    return run


CASES = list(
    itertools.product(
        ["normal", "p_t_near_1", "p_t_near_0", "magnitude_1e4", "uniform"],
        ["mean", "sum", "none"],
        [False, True],
    )
)


@pytest.mark.parametrize(("name", "params", "gamma", "eps"), SETTINGS, ids=IDS)
def test_the_kernel_equals_the_eager_path_in_float64(native_kernel, name, params, gamma, eps):
    for kind, reduction, weighted in CASES:
        logits, target = inputs(kind)
        weight = torch.linspace(0.2, 3.0, 10, dtype=torch.float64) if weighted else None
        loss = build_loss(name, reduction=reduction, weight=weight, **params).double()
        upstream = torch.randn(64, dtype=torch.float64) if reduction == "none" else None
        ours = value_and_grad(
            kernel_call(native_kernel, gamma, eps, loss.weight, reduction), logits, target, upstream
        )
        reference = value_and_grad(eager(loss), logits, target, upstream)
        assert torch.isfinite(ours[0]).all() and torch.isfinite(ours[1]).all()
        torch.testing.assert_close(
            ours,
            reference,
            rtol=1e-12,
            atol=1e-15,
            msg=lambda m, k=kind, r=reduction, w=weighted: f"{k} {r} {w}: {m}",
        )


@pytest.mark.parametrize(("name", "params", "gamma", "eps"), SETTINGS, ids=IDS)
def test_in_float32_the_kernel_is_as_close_to_float64_as_the_eager_path(
    native_kernel, name, params, gamma, eps
):
    # Error against the float64 value, per element relative to the largest magnitude.
    def error(a, b):
        return ((a.double() - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()

    for kind, reduction, _ in CASES:
        logits, target = inputs(kind, seed=1)
        loss = build_loss(name, reduction=reduction, **params)
        upstream = torch.randn(64, dtype=torch.float64) if reduction == "none" else None
        exact = value_and_grad(eager(loss.double()), logits, target, upstream)
        ours = value_and_grad(
            kernel_call(native_kernel, gamma, eps, None, reduction),
            logits.float(),
            target,
            upstream,
        )
        theirs = value_and_grad(eager(loss.float()), logits.float(), target, upstream)
        for mine, eager_one, truth in zip(ours, theirs, exact, strict=True):
            assert error(mine, truth) <= max(2 * error(eager_one, truth), 1e-6), (kind, reduction)


def test_modules_take_the_kernel_for_small_2d_float_inputs_and_eager_ops_otherwise(native_kernel):
    def node(value):
        return value.grad_fn.name()

    logits = torch.randn(64, 10, requires_grad=True)
    target = torch.randint(0, 10, (64,))
    for name in ("poly1_cross_entropy", "polyn_cross_entropy", "focal", "poly1_focal"):
        assert "SoftmaxFamily" in node(build_loss(name)(logits, target)), name
        with _native.eager_only():
            assert node(build_loss(name)(logits, target)).startswith("NllLoss"), name
    # Not the kernel: cross_entropy (torch's own), smoothing, a focal alpha, several Poly-N
    # coefficients, K-dim inputs, half precision, large inputs.
    assert node(build_loss("cross_entropy")(logits, target)).startswith("NllLoss")
    kept = [
        build_loss("poly1_cross_entropy", label_smoothing=0.1)(logits, target),
        build_loss("focal", alpha=[1.0] * 10)(logits, target),
        build_loss("polyn_cross_entropy", epsilons=[1.0, 0.5])(logits, target),
        build_loss("focal")(torch.randn(8, 10, 3, requires_grad=True), torch.zeros(8, 3).long()),
        build_loss("focal")(logits.bfloat16(), target),
        build_loss("focal")(torch.randn(300, 300, requires_grad=True), torch.zeros(300).long()),
    ]
    for value in kept:
        assert "SoftmaxFamily" not in node(value)


def test_a_weight_in_another_dtype_and_non_contiguous_logits_give_the_eager_values(native_kernel):
    base = torch.randn(10, 64, dtype=torch.float64)
    logits = base.t()  # (64, 10), not contiguous
    target = torch.randint(0, 10, (64,))
    loss = build_loss("poly1_focal", epsilon=1.0, weight=[0.5] * 5 + [2.0] * 5).double()
    ours = value_and_grad(loss, logits, target)
    torch.testing.assert_close(
        ours, value_and_grad(eager(loss), logits, target), rtol=1e-12, atol=1e-15
    )
    float_weight = build_loss("focal", weight=[0.5] * 10)  # float32 weight, float64 logits
    torch.testing.assert_close(
        value_and_grad(float_weight, logits, target),
        value_and_grad(eager(float_weight), logits, target),
    )


def test_no_samples_and_every_sample_ignored_reduce_as_torch_does(native_kernel):
    for n, ignored in ((0, False), (5, True)):
        logits = torch.randn(n, 4, requires_grad=True)
        target = torch.full((n,), -100) if ignored else torch.zeros(0, dtype=torch.long)
        for reduction in ("mean", "sum", "none"):
            ours = native_kernel.softmax_family(logits, target, None, 2.0, 0.0, -100, reduction)
            theirs = F.nll_loss(torch.log_softmax(logits, 1), target, reduction=reduction)
            torch.testing.assert_close(ours, theirs, equal_nan=True)
            ours.sum().backward()
            assert torch.equal(logits.grad, torch.zeros_like(logits)) or reduction == "mean"
            logits.grad = None


def test_bad_targets_fall_back_to_the_eager_path_and_raise_its_errors(native_kernel):
    logits = torch.randn(4, 3)
    with pytest.raises(RuntimeError, match="out of bounds"):
        native_kernel.softmax_family(
            logits, torch.tensor([0, 1, 7, 2]), None, 2.0, 0.0, -100, "mean"
        )
    with pytest.raises(RuntimeError, match="reduction"):
        native_kernel.softmax_family(
            logits, torch.tensor([0, 1, 2, 2]), None, 2.0, 0.0, -100, "avg"
        )
    for target in (torch.tensor([0, 1, 7, 2]), torch.zeros(4, 2, dtype=torch.long)):
        with pytest.raises(Exception) as ours:
            build_loss("focal")(logits, target)
        with _native.eager_only(), pytest.raises(Exception) as theirs:
            build_loss("focal")(logits, target)
        assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))
    assert "focal" in str(ours.value)  # the shape error names the loss


def test_a_gradient_penalty_through_the_kernel_equals_the_eager_one(native_kernel):
    logits, target = inputs("normal", n=16, c=5, seed=3)

    def penalty(loss):
        leaf = logits.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(loss(leaf, target), leaf, create_graph=True)
        total = grad.pow(2).sum()
        total.backward()
        return total.detach(), leaf.grad

    loss = build_loss("poly1_focal", gamma=2.0, epsilon=1.0)
    assert "SoftmaxFamily" in loss(logits.clone().requires_grad_(True), target).grad_fn.name()
    torch.testing.assert_close(penalty(loss), penalty(eager(loss)), rtol=1e-12, atol=1e-15)


def test_turned_off_by_the_environment_and_found_again_after_forget(native_kernel, monkeypatch):
    logits = torch.randn(8, 4, requires_grad=True)
    target = torch.randint(0, 4, (8,))
    monkeypatch.setenv("POLYBENCH_NATIVE", "0")
    _native.forget()
    try:
        assert _native.module() is None
        assert build_loss("focal")(logits, target).grad_fn.name().startswith("NllLoss")
        assert _native.status()["disabled_by"] == "POLYBENCH_NATIVE=0"
        assert not _native.status()["in_use"]
    finally:
        monkeypatch.delenv("POLYBENCH_NATIVE")
        _native.forget()
    assert _native.module() is native_kernel


def test_the_build_folder_is_keyed_by_source_torch_and_python(monkeypatch, tmp_path):
    monkeypatch.setenv("POLYBENCH_KERNEL_DIR", str(tmp_path))
    first = _native.build_location()
    assert first.directory.parent == tmp_path
    assert torch.__version__ in first.directory.name
    assert f"py{sys.version_info.major}{sys.version_info.minor}" in first.directory.name
    edited = tmp_path / "_native.cpp"
    edited.write_text(_native.SOURCE.read_text() + "\n// edited\n")
    monkeypatch.setattr(_native, "SOURCE", edited)
    second = _native.build_location()
    assert second.name != first.name and second.directory != first.directory


def test_a_library_that_does_not_load_is_reported_and_the_losses_run_eagerly(monkeypatch, tmp_path):
    monkeypatch.setenv("POLYBENCH_KERNEL_DIR", str(tmp_path))
    where = _native.build_location()
    where.directory.mkdir(parents=True)
    where.library.write_bytes(b"not a shared library")
    _native.forget()
    try:
        assert _native.module() is None
        info = _native.status()
        assert info["built"] and not info["in_use"] and "ImportError" in info["load_error"]
        result = CliRunner().invoke(app, ["kernels"])
        assert result.exit_code == 0 and "does not load" in result.output
        value = build_loss("focal")(torch.randn(8, 4, requires_grad=True), torch.zeros(8).long())
        assert value.grad_fn.name().startswith("NllLoss")
    finally:
        monkeypatch.delenv("POLYBENCH_KERNEL_DIR")
        _native.forget()


def test_kernels_command_reports_the_build_in_use(native_kernel):
    result = CliRunner().invoke(app, ["kernels", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["in_use"] and Path(info["library"]).exists()
    assert Path(info["library"]).stem == native_kernel.__name__
    text = CliRunner().invoke(app, ["kernels"])
    assert "in use" in text.output and info["library"] in text.output


def test_kernels_command_without_a_build_says_how_to_build(monkeypatch, tmp_path):
    monkeypatch.setenv("POLYBENCH_KERNEL_DIR", str(tmp_path))
    result = CliRunner().invoke(app, ["kernels"])
    assert result.exit_code == 0
    assert "not built" in result.output and "polybench kernels --build" in result.output


@pytest.mark.slow
def test_kernels_build_compiles_into_a_fresh_folder_that_a_new_process_then_uses(tmp_path):
    env = {**os.environ, "POLYBENCH_KERNEL_DIR": str(tmp_path)}
    cli = Path(sys.executable).with_name("polybench")
    built = subprocess.run(
        [str(cli), "kernels", "--build", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    info = json.loads(built.stdout)
    assert info["in_use"] and Path(info["library"]).is_relative_to(tmp_path)
    check = (
        "import torch; from polybench.losses import build_loss; "
        "v = build_loss('focal')(torch.randn(4, 3, requires_grad=True), torch.zeros(4).long()); "
        "print(v.grad_fn.name())"
    )
    used = subprocess.run(
        [sys.executable, "-c", check],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "SoftmaxFamily" in used.stdout
