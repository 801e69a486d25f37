"""`model: hf_encoder`: a pretrained Hugging Face encoder from a local checkpoint folder.

The checkpoint is a tiny, randomly initialised BERT with a WordPiece tokenizer built from a
vocabulary file that the test writes (`_tiny_bert.py`); nothing is downloaded.
"""

from __future__ import annotations

import random
import textwrap

import pytest
import torch
from _tiny_bert import write_tiny_bert

from polybench.config import ConfigError, parse_study
from polybench.models import build_model
from polybench.models._pretrained import word_pieces
from polybench.tasks import load_task

GOOD = ["good", "great", "fine", "superb", "lovely"]
BAD = ["bad", "awful", "poor", "dreadful", "boring"]
FILLER = ["the", "movie", "was", "plot", "actors", "really", "quite", "and", "music", "ending"]


@pytest.fixture(scope="module")
def reviews(tmp_path_factory):
    """A CSV of short English reviews whose label is the sentiment word in them."""
    folder = tmp_path_factory.mktemp("reviews")
    rng = random.Random(0)
    lines = ["text,label"]
    for index in range(400):
        label = index % 2
        words = rng.sample(FILLER, 5)
        words.insert(rng.randrange(6), rng.choice(GOOD if label else BAD))
        lines.append(f"{' '.join(words)},{label}")
    path = folder / "reviews.csv"
    path.write_text("\n".join(lines) + "\n")
    # "goodness" is not in the vocabulary file: WordPiece cuts it into good + ##ness
    checkpoint = write_tiny_bert(folder / "bert", [*GOOD, *BAD, *FILLER, "##ness"])
    return path, checkpoint


def _task(path):
    return load_task("text_file", path=path, tokenizer="word", subsample=1.0)


def test_vocabulary_entries_map_to_the_checkpoints_word_pieces(reviews):
    from transformers import AutoTokenizer

    _, checkpoint = reviews
    tokenizer = AutoTokenizer.from_pretrained(checkpoint, local_files_only=True)
    table = word_pieces(tokenizer, ("<pad>", "<unk>", "<sep>", "good", "goodness", "zebra"), 4)
    ids = tokenizer.convert_tokens_to_ids
    expected = [
        [],
        [ids("[UNK]")],
        [ids("[SEP]")],
        [ids("good")],
        [ids("good"), ids("##ness")],
        [ids("[UNK]")],
    ]
    assert [[v for v in row if v >= 0] for row in table.tolist()] == expected


def test_the_encoder_sees_what_its_own_tokenizer_makes_of_the_text(reviews):
    """Task token ids in, `[CLS] pieces [SEP]` out: the same ids as tokenizer(text)."""
    from transformers import AutoTokenizer

    path, checkpoint = reviews
    task = _task(path)
    model = build_model("hf_encoder", task, path=checkpoint).eval()
    seen = {}
    model.encoder.register_forward_pre_hook(
        lambda module, args, kwargs: seen.update(kwargs), with_kwargs=True
    )
    batch = task.train.x[:4]
    model(batch)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint, local_files_only=True)
    for row, ids, mask in zip(batch, seen["input_ids"], seen["attention_mask"], strict=True):
        text = " ".join(task.vocabulary[i] for i in row.tolist() if i != task.pad_index)
        expected = tokenizer(text)["input_ids"]
        assert ids[mask.bool()].tolist() == expected
        assert ids[~mask.bool()].eq(tokenizer.pad_token_id).all()


def test_building_the_encoder_leaves_transformers_logging_as_it_was(reviews):
    import transformers

    path, checkpoint = reviews
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_info()
    try:
        build_model("hf_encoder", _task(path), path=checkpoint)
        assert transformers.logging.get_verbosity() == transformers.logging.INFO
    finally:
        transformers.logging.set_verbosity(verbosity)


def test_hf_encoder_trains_on_a_text_task_from_a_study_file(reviews):
    from polybench.runner import build_plan
    from polybench.train import fit

    path, checkpoint = reviews
    study = textwrap.dedent(
        f"""\
        name: pretrained
        tasks:
          - task: text_file
            path: {path}
            tokenizer: word
            model: hf_encoder
            model_options: {{path: {checkpoint}, pooling: mean}}
            epochs: 4
            batch_size: 32
            optimizer: {{name: adamw, lr: 3.0e-3}}
        losses: [{{loss: poly1_cross_entropy}}]
        """
    )
    (pair, *_) = build_plan(parse_study(study)).pairs
    assert pair.model == "hf_encoder"
    torch.manual_seed(0)
    spec = pair.task_entry
    result = fit(
        _task(path),
        "hf_encoder",
        "poly1_cross_entropy",
        {"epsilon": 1.0},
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        lr=spec.optimizer.lr,
        model_params=spec.model_options,
        device="cpu",
    )
    assert result.state == "complete"
    assert result.metrics["test_accuracy"] >= 0.9  # the label is one word of the review


def test_a_folder_that_is_no_checkpoint_is_refused_before_training(tmp_path, reviews):
    path, _ = reviews
    study = textwrap.dedent(
        f"""\
        name: pretrained
        tasks:
          - task: text_file
            path: {path}
            model: hf_encoder
            model_options: {{path: {tmp_path}}}
        losses: [{{loss: cross_entropy}}]
        """
    )
    with pytest.raises(ConfigError) as error:
        parse_study(study)
    assert str(error.value) == (
        f"<study>:6: tasks[0].model_options: model 'hf_encoder': {tmp_path} is not a Hugging "
        "Face checkpoint folder (no config.json there); give the folder that save_pretrained "
        "wrote."
    )
    with pytest.raises(ConfigError, match=r"model_options: model 'hf_encoder' needs option 'path'"):
        parse_study(study.replace(f"model_options: {{path: {tmp_path}}}", "model_options: {}"))
