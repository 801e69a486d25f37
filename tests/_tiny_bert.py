"""A tiny, randomly initialised BERT checkpoint written to disk, as `save_pretrained` writes a
real one: config, weights and a WordPiece tokenizer from a vocabulary file made here."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def write_tiny_bert(folder: Path, words: Iterable[str], *, seed: int = 0) -> Path:
    """Save a 2-layer, 32-wide BERT whose vocabulary is SPECIAL + `words` into `folder`."""
    import json

    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder.mkdir(parents=True, exist_ok=True)
    vocabulary = SPECIAL + [w for w in dict.fromkeys(words) if w not in SPECIAL]
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    # a vocabulary file and the class that reads it, as in a BERT checkpoint on the Hub
    settings = {"tokenizer_class": "BertTokenizer", "do_lower_case": True}
    (folder / "tokenizer_config.json").write_text(json.dumps(settings))
    AutoTokenizer.from_pretrained(folder, local_files_only=True).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocabulary),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(folder)
    return folder
