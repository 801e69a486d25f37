"""Text to token ids: tokenizers, a vocabulary built from the training split, padded id tensors.

Chinese (and Japanese kana) is tokenized per character; space-separated languages per word
(lower-cased, punctuation split off). The default tokenizer `auto` does both in one pass, so a
Chinese review with an English brand name yields characters plus the word. Sentence pairs are
joined as `first <sep> second`.

The expensive part, tokenizing a corpus, is done once per corpus and tokenizer: every token gets a
corpus-wide id (`Corpus`), and a vocabulary for one training split is then a remapping array over
those ids, so building tasks with other seeds, subsamples or imbalance ratios is cheap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

PAD, UNK, SEP = "<pad>", "<unk>", "<sep>"
SPECIALS = (PAD, UNK, SEP)
PAD_INDEX, UNK_INDEX, SEP_INDEX = 0, 1, 2

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN_PATTERNS = {
    "auto": re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]"),
    "word": re.compile(r"\w+|[^\w\s]"),
    "char": re.compile(r"\S"),
}
TOKENIZERS = tuple(_TOKEN_PATTERNS)


def tokenize(text: str, tokenizer: str = "auto") -> list[str]:
    """Split one text into tokens: `char` (every non-space character), `word` (lower-cased
    words and punctuation) or `auto` (CJK characters one by one, other words whole)."""
    pattern = _TOKEN_PATTERNS[tokenizer]
    lowered = text if tokenizer == "char" else text.lower()
    return pattern.findall(lowered)


@dataclass(frozen=True)
class Corpus:
    """A tokenized corpus: `tokens` lists every distinct token (corpus-wide id = position);
    `parts[name]` holds, per text of that part, its corpus-wide ids as an int32 array: a tuple of
    those for the first texts and, for sentence pairs, a second tuple (else None)."""

    tokens: tuple[str, ...]
    parts: Mapping[str, tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...] | None]]


def build_corpus(parts: Mapping[str, Sequence[str | tuple[str, str]]], tokenizer: str) -> Corpus:
    """Tokenize every text of every part once, giving each distinct token a corpus-wide id.
    A part's texts are strings, or (first, second) pairs."""
    index: dict[str, int] = {}

    def ids_of(text: str) -> np.ndarray:
        return np.fromiter(
            (index.setdefault(token, len(index)) for token in tokenize(text, tokenizer)),
            dtype=np.int32,
        )

    tokenized = {}
    for name, texts in parts.items():
        if texts and isinstance(texts[0], tuple):
            first = tuple(ids_of(a) for a, _ in texts)
            second = tuple(ids_of(b) for _, b in texts)
            tokenized[name] = (first, second)
        else:
            tokenized[name] = (tuple(ids_of(t) for t in texts), None)
    return Corpus(tokens=tuple(index), parts=tokenized)


@dataclass(frozen=True)
class Vocabulary:
    """Tokens of one task: `tokens[i]` is the token with id i; ids 0, 1, 2 are <pad>, <unk> and
    <sep>. `remap[corpus_id]` gives the task id of a corpus token (<unk> when it is not kept)."""

    tokens: tuple[str, ...]
    remap: np.ndarray


def build_vocabulary(
    corpus: Corpus, part: str, rows: np.ndarray, min_freq: int, max_size: int | None
) -> Vocabulary:
    """Keep tokens seen at least `min_freq` times in the given rows of one part (the training
    split; both sides of pairs), most frequent first, at most `max_size` ids including the
    specials; everything else maps to <unk>."""
    first, second = corpus.parts[part]
    arrays = [first[i] for i in rows] + ([second[i] for i in rows] if second else [])
    flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int32)
    counts = np.bincount(flat, minlength=len(corpus.tokens))
    # stable sort: equal counts keep the corpus order (first appearance), so ids are reproducible
    order = np.argsort(-counts, kind="stable")
    kept = order[counts[order] >= max(min_freq, 1)]
    if max_size is not None:
        kept = kept[: max(max_size - len(SPECIALS), 0)]
    remap = np.full(len(corpus.tokens), UNK_INDEX, dtype=np.int64)
    remap[kept] = np.arange(len(SPECIALS), len(SPECIALS) + len(kept))
    tokens = SPECIALS + tuple(corpus.tokens[i] for i in kept)
    return Vocabulary(tokens=tokens, remap=remap)


def _pair_lengths(first: int, second: int, budget: int) -> tuple[int, int]:
    """Truncate the longer side first so that first + second <= budget."""
    if first + second <= budget:
        return first, second
    half = budget // 2
    if first >= half and second >= budget - half:
        return half, budget - half
    if first > second:
        return budget - second, second
    return first, budget - first


def encode(
    vocabulary: Vocabulary,
    first: Sequence[np.ndarray],
    second: Sequence[np.ndarray] | None,
    max_length: int,
) -> list[np.ndarray]:
    """Task ids per row, at most `max_length` long; with `second`, each row is
    `first <sep> second`, truncated longest side first."""
    if second is None:
        return [vocabulary.remap[ids[:max_length]] for ids in first]
    sep = np.array([SEP_INDEX], dtype=np.int64)
    rows = []
    for a, b in zip(first, second, strict=True):
        la, lb = _pair_lengths(len(a), len(b), max_length - 1)
        rows.append(np.concatenate([vocabulary.remap[a[:la]], sep, vocabulary.remap[b[:lb]]]))
    return rows


def pad(rows: Sequence[np.ndarray], width: int) -> np.ndarray:
    """Rows padded with <pad> (id 0) into an (N, width) int64 array."""
    out = np.full((len(rows), width), PAD_INDEX, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out
