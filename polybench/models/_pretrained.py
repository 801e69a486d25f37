"""`hf_encoder`: a pretrained Hugging Face encoder (BERT, RoBERTa, ...) from a local folder.

The reference blog's AFQMC result came from a pretrained encoder. `path` names a checkpoint
folder on disk (`config.json`, weights, tokenizer files, as `save_pretrained` writes them);
nothing is downloaded (`local_files_only`). Needs the optional extra:
`pip install 'polybench[transformers]'`.

polybench's text tasks hand every model token ids of the task's own vocabulary (characters
for Chinese, whole words otherwise; `<sep>` between the two sentences of a pair). The model
maps each vocabulary entry once, at build time, to the checkpoint tokenizer's word pieces, so
Chinese text reaches a Chinese BERT exactly as its own tokenizer would cut it, and a word
becomes its word pieces (at most `max_pieces`). The pieces are wrapped as
`[CLS] ... [SEP]`; the first token's final state (or the mean, `pooling: mean`) is classified.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from polybench.models._registry import DROPOUT, ModelSpec, register
from polybench.tasks import Option, TaskData
from polybench.tasks._text import PAD, SEP, UNK

_MISSING_EXTRA = (
    "model 'hf_encoder' needs the transformers package: pip install 'polybench[transformers]'"
)


class PretrainedEncoderClassifier(nn.Module):
    """A pretrained encoder over the task's token ids and a linear classifier.

    tokens: (N, L) int64 ids of the task vocabulary -> logits: (N, num_classes).
    `pieces`: (V, K) word-piece ids of each vocabulary entry, -1 where there is none.
    """

    def __init__(
        self,
        encoder: nn.Module,
        pieces: torch.Tensor,
        *,
        cls_id: int,
        sep_id: int,
        pad_id: int,
        num_classes: int,
        max_length: int,
        pooling: str = "cls",
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.register_buffer("pieces", pieces, persistent=False)
        self.cls_id, self.sep_id, self.pad_id = cls_id, sep_id, pad_id
        self.max_length = max_length
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(int(encoder.config.hidden_size), num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        batch = tokens.shape[0]
        flat = self.pieces[tokens].reshape(batch, -1)  # (N, L * K)
        present = flat >= 0
        # move every word piece to the front of its row, in order (padding to the back)
        order = torch.argsort((~present).to(torch.int8), dim=1, stable=True)
        flat, present = flat.gather(1, order), present.gather(1, order)
        lengths = present.sum(1).clamp(max=self.max_length - 2)
        width = int(lengths.max().item()) + 2
        body = torch.where(present[:, : width - 2], flat[:, : width - 2], self.pad_id)
        ids = torch.full((batch, width), self.pad_id, dtype=torch.long, device=tokens.device)
        ids[:, 0] = self.cls_id
        ids[:, 1 : width - 1] = body
        positions = torch.arange(width, device=tokens.device)
        body_mask = (positions[None, :] >= 1) & (positions[None, :] <= lengths[:, None])
        ids = torch.where(body_mask | (positions[None, :] == 0), ids, self.pad_id)
        ids.scatter_(1, (lengths + 1)[:, None], self.sep_id)
        attention = (positions[None, :] <= (lengths + 1)[:, None]).long()
        hidden = self.encoder(input_ids=ids, attention_mask=attention).last_hidden_state
        if self.pooling == "mean":
            weights = attention.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1)
        else:
            pooled = hidden[:, 0]
        return self.classifier(self.dropout(pooled))


def word_pieces(tokenizer: Any, vocabulary: tuple[str, ...], max_pieces: int) -> torch.Tensor:
    """(V, K) word-piece ids of each task vocabulary entry under `tokenizer`, -1 padded.

    `<pad>` maps to nothing, `<unk>` to the tokenizer's unknown token, `<sep>` to its
    separator; an entry the tokenizer turns into nothing becomes its unknown token.
    """
    unk = int(tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0)
    sep = int(tokenizer.sep_token_id if tokenizer.sep_token_id is not None else unk)
    words = [token for token in vocabulary if token not in (PAD, UNK, SEP)]
    encoded = iter(tokenizer(words, add_special_tokens=False)["input_ids"]) if words else iter(())
    rows: list[list[int]] = []
    for token in vocabulary:
        if token == PAD:
            rows.append([])
        elif token == UNK:
            rows.append([unk])
        elif token == SEP:
            rows.append([sep])
        else:
            rows.append(list(next(encoded))[:max_pieces] or [unk])
    width = max(1, max(len(row) for row in rows))
    table = torch.full((len(rows), width), -1, dtype=torch.long)
    for index, row in enumerate(rows):
        if row:
            table[index, : len(row)] = torch.tensor(row, dtype=torch.long)
    return table


def check_hf_encoder(options: Mapping[str, Any]) -> str | None:
    """Why `hf_encoder` cannot be built with `options` (no transformers, no checkpoint)."""
    import importlib.util

    if importlib.util.find_spec("transformers") is None:
        return _MISSING_EXTRA + "."
    path = Path(options["path"]).expanduser()
    if not (path / "config.json").is_file():
        return (
            f"model 'hf_encoder': {path} is not a Hugging Face checkpoint folder (no "
            "config.json there); give the folder that save_pretrained wrote."
        )
    return None


def build_hf_encoder(task: TaskData, options: Mapping[str, Any]) -> nn.Module:
    """Load the checkpoint at `options['path']` (local files only) and size it for `task`."""
    problem = check_hf_encoder(options)
    if problem:
        raise ValueError(problem)
    import transformers

    path = Path(options["path"]).expanduser()
    # Quiet while loading (unused-weights notices), then the caller's log level again.
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        encoder = transformers.AutoModel.from_pretrained(path, local_files_only=True)
    finally:
        transformers.logging.set_verbosity(verbosity)
    if getattr(encoder, "pooler", None) is not None:  # unused: the classifier pools itself
        encoder.pooler = None
    assert task.vocabulary is not None, "hf_encoder needs a text task"
    limit = int(getattr(encoder.config, "max_position_embeddings", 512) or 512)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return PretrainedEncoderClassifier(
        encoder,
        word_pieces(tokenizer, task.vocabulary, options["max_pieces"]),
        cls_id=int(tokenizer.cls_token_id if tokenizer.cls_token_id is not None else pad),
        sep_id=int(tokenizer.sep_token_id if tokenizer.sep_token_id is not None else pad),
        pad_id=int(pad),
        num_classes=task.num_classes,
        max_length=min(limit, options["max_length"]),
        pooling=options["pooling"],
        dropout=options["dropout"],
    )


register(
    ModelSpec(
        name="hf_encoder",
        kind="text",
        summary="a pretrained Hugging Face encoder from a local checkpoint folder (path:)",
        build=build_hf_encoder,
        check=check_hf_encoder,
        options=(
            Option(
                "path",
                Path,
                None,
                "checkpoint folder (config.json, weights, tokenizer); never downloaded",
                required=True,
            ),
            Option(
                "pooling",
                str,
                "cls",
                "cls: first token's state; mean: masked mean",
                choices=("cls", "mean"),
            ),
            Option(
                "max_length", int, 512, "longest word-piece input, [CLS] and [SEP] included", low=3
            ),
            Option("max_pieces", int, 4, "word pieces kept per vocabulary entry", low=1),
            DROPOUT,
        ),
    )
)
