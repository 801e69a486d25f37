"""Study settings for accelerators: `amp: bf16`, `channels_last`, `compile: true`, and the compiled
(CUDA) loss path.

bf16 autocast and channels-last layout run on CPU too, so their behaviour is specified here on
any machine. `torch.compile` needs a C compiler on CPU and minutes of compilation on a loaded
machine, so its CPU test is slow. The CUDA tests are skipped without a GPU: **they have not been
run on a GPU yet.**
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from polybench.config import ConfigError, parse_study
from polybench.db import open_store
from polybench.losses import build_loss
from polybench.losses._compiled import compiled_loss
from polybench.runner import run_study
from polybench.tasks import load_task
from polybench.train import fit

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def digits():
    return load_task("digits", subsample=0.3, data_seed=0)


def test_bf16_autocast_and_channels_last_train_on_cpu(digits):
    plain = fit(digits, "small_cnn", "poly1_cross_entropy", epochs=2, device="cpu", seed=1)
    fast = fit(
        digits,
        "small_cnn",
        "poly1_cross_entropy",
        epochs=2,
        device="cpu",
        seed=1,
        amp="bf16",
        channels_last=True,
    )
    assert fast.state == plain.state == "complete"
    assert fast.settings["amp"] == "bf16" and fast.settings["channels_last"] is True
    # bfloat16 keeps 8 bits of mantissa: the curve follows the float32 one, not exactly
    for low, full in zip(fast.curve, plain.curve, strict=True):
        assert math.isfinite(low.train_loss)
        assert low.train_loss == pytest.approx(full.train_loss, rel=0.1)
    assert fast.metrics["test_accuracy"] > 0.5


def test_unknown_amp_is_refused_naming_the_allowed_value(digits):
    with pytest.raises(ValueError, match=r"fit: amp must be None or one of bf16, got 'fp8'"):
        fit(digits, "small_cnn", epochs=1, device="cpu", amp="fp8")


def _study(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "accel.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            name: accel
            threads: 1
            tasks:
              - {task: digits, model: small_cnn, subsample: 0.1, epochs: 1}
            losses:
              - loss: cross_entropy
            search: {trials: 1}
            confirm: {seeds: 1}
            """
        )
        + extra
    )
    return path


def test_study_settings_reach_every_run(tmp_path: Path, sqlite_url: str):
    path = _study(tmp_path, "amp: bf16\nchannels_last: true\n")
    summary = run_study(path, storage=sqlite_url, progress=False)
    assert summary.complete and summary.stored_runs == 2
    config = parse_study(path.read_text(), str(path))
    assert (config.amp, config.channels_last, config.compile) == ("bf16", True, False)
    with open_store(sqlite_url) as store:
        assert set(store.runs(study="accel")["state"]) == {"complete"}


def test_a_bad_amp_setting_names_the_file_and_key(tmp_path: Path):
    path = _study(tmp_path, "amp: fp16\n")
    with pytest.raises(ConfigError) as error:
        parse_study(path.read_text(), str(path))
    assert "amp" in str(error.value) and "accel.yaml" in str(error.value)


@pytest.mark.slow
def test_compiled_training_and_loss_match_eager_on_cpu(digits):
    logits = torch.randn(64, 10, dtype=torch.float32, requires_grad=True)
    target = torch.randint(0, 10, (64,))
    for name in ("cross_entropy", "poly1_cross_entropy", "focal"):
        eager_leaf = logits.detach().clone().requires_grad_(True)
        compiled_leaf = logits.detach().clone().requires_grad_(True)
        eager = build_loss(name)(eager_leaf, target)
        compiled = compiled_loss(name)(compiled_leaf, target)
        eager.backward()
        compiled.backward()
        torch.testing.assert_close(compiled, eager)
        torch.testing.assert_close(compiled_leaf.grad, eager_leaf.grad)
    # Under torch.compile the short path traces its eager form, never the compiled CPU kernel
    # (a graph break): fullgraph=True raises on any break.
    whole = torch.compile(build_loss("poly1_focal"), fullgraph=True, dynamic=False)
    torch.testing.assert_close(whole(logits, target), build_loss("poly1_focal")(logits, target))
    result = fit(digits, "small_cnn", "poly1_cross_entropy", epochs=1, device="cpu", compile=True)
    assert result.state == "complete" and result.settings["compile"] is True


@CUDA
@pytest.mark.parametrize("shape", [(4096, 1000), (256, 100), (64, 10)])
@pytest.mark.parametrize("name", ["cross_entropy", "poly1_cross_entropy", "focal", "poly1_focal"])
def test_compiled_losses_equal_eager_on_cuda(shape, name):
    generator = torch.Generator().manual_seed(0)
    logits = (torch.randn(shape, generator=generator) * 3).cuda()
    target = torch.randint(0, shape[1], shape[:1], generator=generator).cuda()
    eager_leaf = logits.clone().requires_grad_(True)
    compiled_leaf = logits.clone().requires_grad_(True)
    eager = build_loss(name)(eager_leaf, target)
    compiled = compiled_loss(name)(compiled_leaf, target)
    eager.backward()
    compiled.backward()
    torch.testing.assert_close(compiled, eager, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(compiled_leaf.grad, eager_leaf.grad, rtol=1e-4, atol=1e-7)
    if name == "cross_entropy":
        torch.testing.assert_close(eager, F.cross_entropy(logits, target))


@CUDA
def test_fit_on_cuda_with_bf16_channels_last_and_compile(digits):
    result = fit(
        digits,
        "small_cnn",
        "poly1_cross_entropy",
        epochs=2,
        device="cuda",
        amp="bf16",
        channels_last=True,
        compile=True,
    )
    assert result.state == "complete"
    assert result.environment.device.startswith("cuda")
    assert result.metrics["test_accuracy"] > 0.5


@pytest.mark.slow
def test_the_prepared_gpu_check_runs_its_steps_scaled_down_on_a_cpu(tmp_path: Path):
    """`benchmarks/gpu_check.sh` is run once a GPU is lent; it must work then, so its steps
    run here on the CPU (DEVICE=cpu QUICK=1): benchmarks, a study, its report."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "check"
    env = {**os.environ, "DEVICE": "cpu", "QUICK": "1", "OUT": str(out)}
    env["PYTHON"] = sys.executable
    done = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    losses = (out / "losses.txt").read_text()
    for shape in ("4096 x 1000", "256 x 100", "64 x 10"):
        assert f"batch {shape} classes" in losses
    assert "poly1_cross_entropy (compiled)" in losses
    assert "median ratio" in (out / "train.txt").read_text()
    report = (out / "report.md").read_text()
    for loss in ("cross_entropy", "poly1_cross_entropy", "focal", "poly1_focal"):
        assert f"| synthetic_images | {loss} |" in report
    with open_store(f"sqlite:///{out / 'study.db'}") as store:
        runs = store.runs(study="cifar_shaped_quick")
    assert len(runs) == 8 and set(runs["state"]) == {"complete"}
