"""Models: every registered model builds from a task of its kind, maps inputs to (N, classes),
trains (gradients reach every parameter), and refuses tasks of the other kind."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from polybench.models import MODELS, build_model
from polybench.tasks import load_task


@pytest.fixture(scope="module")
def tasks():
    return {
        "image": load_task("digits", subsample=0.2),
        "text": load_task("review_sentiment_zh", subsample=0.02, max_length=40),
    }


@pytest.fixture(scope="module")
def required_options(tasks, tmp_path_factory):
    """Options a model cannot be built without: hf_encoder's local checkpoint folder (a tiny
    random BERT whose vocabulary holds the review task's first 300 characters)."""
    from _tiny_bert import write_tiny_bert

    words = tasks["text"].vocabulary[3:303]
    folder = write_tiny_bert(tmp_path_factory.mktemp("tiny_bert"), words)
    return {"hf_encoder": {"path": folder}}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_maps_inputs_to_class_logits_and_learns(name, tasks, required_options):
    task = tasks[MODELS[name].kind]
    torch.manual_seed(0)
    model = build_model(name, task, **required_options.get(name, {}))
    x, y = task.train.x[:16], task.train.y[:16]
    logits = model(x)
    assert logits.shape == (16, task.num_classes) and logits.dtype == torch.float32
    F.cross_entropy(logits, y).backward()
    embedding_rows_unused = {"embedding.weight", "encoder.embeddings.word_embeddings.weight"}
    for parameter_name, parameter in model.named_parameters():
        assert parameter.grad is not None, parameter_name
        if parameter_name not in embedding_rows_unused:
            assert parameter.grad.abs().sum() > 0, parameter_name
    # a few optimizer steps on one batch lower its loss
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    first = None
    for _ in range(3):
        loss = F.cross_entropy(model(x), y)
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_refuses_the_other_kind(name, tasks):
    other = tasks["text" if MODELS[name].kind == "image" else "image"]
    with pytest.raises(ValueError, match=f"model '{name}' needs a {MODELS[name].kind} task"):
        build_model(name, other)


def test_small_cnn_suits_8x8_28x28_and_32x32():
    for shape in [(1, 8, 8), (1, 28, 28), (3, 32, 32)]:
        task = dataclasses.replace(load_task("digits", subsample=0.1), input_shape=shape)
        model = build_model("small_cnn", task, width=8)
        assert model(torch.randn(2, *shape)).shape == (2, 10)


def test_resnet18_is_torchvisions_with_a_32x32_stem():
    from torchvision.models import resnet18

    task = load_task("digits", subsample=0.1)
    model = build_model("resnet18", task)
    reference = resnet18(num_classes=10)
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert model.conv1.in_channels == 1 and isinstance(model.maxpool, torch.nn.Identity)
    # the rest is torchvision's ResNet-18: same parameter shapes after the stem
    ours = {k: v.shape for k, v in model.state_dict().items() if not k.startswith("conv1")}
    theirs = {k: v.shape for k, v in reference.state_dict().items() if not k.startswith("conv1")}
    assert ours == theirs


@pytest.mark.parametrize("name", ["bigru", "fasttext"])
def test_padding_does_not_change_the_output(name, tasks):
    task = tasks["text"]
    torch.manual_seed(0)
    model = build_model(name, task).eval()
    x = task.val.x[:8]
    padded = torch.cat([x, torch.full((8, 7), task.pad_index)], dim=1)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), model(padded))


def test_fasttext_bags_tokens_and_hashed_ngrams_without_padding(tasks):
    task = tasks["text"]
    torch.manual_seed(0)
    model = build_model("fasttext", task, ngrams=3, buckets=1000).eval()
    tokens = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 0, 0, 0]])
    bag = model.features(tokens)
    # tokens, then 4 bigram and 3 trigram slots per row; n-grams touching <pad> become <pad>
    assert bag.shape == (2, 5 + 4 + 3)
    real = bag[bag != task.pad_index]
    assert len(real) == (3 + 2 + 1) + (2 + 1 + 0)
    ngram_ids = bag[:, 5:][bag[:, 5:] != task.pad_index]
    assert ((ngram_ids >= task.vocab_size) & (ngram_ids < task.vocab_size + 1000)).all()
    # the same n-gram hashes to the same bucket wherever it occurs
    again = model.features(torch.tensor([[1, 5, 6, 7]]))
    assert set(bag[0, 5:][bag[0, 5:] != 0].tolist()) <= set(again[0, 4:].tolist())
    x = task.val.x[:8]
    padded = torch.cat([x, torch.full((8, 7), task.pad_index)], dim=1)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), model(padded))
    assert build_model("fasttext", task, ngrams=1).embedding.num_embeddings == task.vocab_size


def test_textcnn_accepts_rows_shorter_than_its_widest_filter(tasks):
    model = build_model("textcnn", tasks["text"])
    assert model(tasks["text"].train.x[:4, :2]).shape == (4, 2)


def test_model_options_are_validated(tasks):
    with pytest.raises(ValueError, match=r"model 'textcnn' has no option 'filter'.*'filters'"):
        build_model("textcnn", tasks["text"], filter=3)
    with pytest.raises(ValueError, match=r"Unknown model 'resnet'.*'resnet18'"):
        build_model("resnet", tasks["image"])
    assert build_model("textcnn", tasks["text"], filters=5).classifier.in_features == 15
