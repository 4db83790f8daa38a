"""From generated word vectors to a tag list (paper §4.2), exactly and fast.

For each generated vector, the ``nearest`` vocabulary words by cosine similarity; over the
vectors of one image, each word's count of being chosen; the ``top`` words by count. The paper
gives no tie rule; ours: a tie in count goes to the higher sum of the word's cosine
similarities over the times it was chosen, then to the alphabetically first word. A tie in
cosine at the edge of the ``nearest`` words also goes to the alphabetically first word.

Exact: every similarity is computed (one matrix product per batch, no approximate index). The
vocabulary is stored in alphabetical order, so "alphabetically first" is "lowest index".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch


class Vocabulary:
    """Word vectors ready for cosine search: unit rows (a zero vector stays zero), words sorted."""

    def __init__(self, vectors: np.ndarray, words: Sequence[str]):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(words) or not len(words):
            raise ValueError(f"need a (V, d) array for V >= 1 words, got {vectors.shape} for {len(words)}")
        order = sorted(range(len(words)), key=words.__getitem__)
        self.words = [words[i] for i in order]
        if len(set(self.words)) != len(self.words):
            raise ValueError("the vocabulary repeats a word")
        self.index = {word: i for i, word in enumerate(self.words)}
        self.unit = torch.from_numpy(unit_rows(vectors[order]))

    def __len__(self) -> int:
        return len(self.words)

    def restricted(self, keep: set[str]) -> Vocabulary:
        """The same vectors for the words in ``keep`` only."""
        rows = [i for i, word in enumerate(self.words) if word in keep]
        return Vocabulary(self.unit[rows].numpy(), [self.words[i] for i in rows])


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; all-zero rows stay zero (their cosine with anything is 0)."""
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1)).astype(np.float32)


def rank_votes(chosen: np.ndarray, scores: np.ndarray, top: int) -> np.ndarray:
    """The ``top`` distinct indices of ``chosen`` by count, then by summed score, then lowest
    index (alphabetical order of a Vocabulary). Serves both decoding and nearest-neighbour
    voting, so every method ranks its words by the same rule."""
    chosen = np.asarray(chosen).ravel()
    if not chosen.size:
        return np.zeros(0, dtype=np.int64)
    unique, inverse = np.unique(chosen, return_inverse=True)
    counts = np.bincount(inverse)
    sums = np.bincount(inverse, weights=np.asarray(scores, dtype=np.float64).ravel())
    order = np.lexsort((unique, -sums, -counts))
    return unique[order[:top]].astype(np.int64)


def nearest_words(similarity: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(indices, similarities) of the ``k`` largest entries of each row; ties at the k-th place
    go to the lowest indices. torch.topk leaves tie order open, so the rare rows where the
    k-th and (k+1)-th values are equal are redone exactly."""
    k = min(k, similarity.shape[1])
    extra = min(k + 1, similarity.shape[1])
    ranked, order = torch.topk(similarity, extra, dim=1)
    values, indices = ranked[:, :k].clone(), order[:, :k].clone()
    if extra > k:
        for row in torch.nonzero(ranked[:, k - 1] == ranked[:, k]).flatten().tolist():
            sims = similarity[row]
            edge = values[row, k - 1]
            above = torch.nonzero(sims > edge).flatten()
            at_edge = torch.nonzero(sims == edge).flatten()[: k - len(above)]
            indices[row] = torch.cat([above, at_edge])
            values[row] = sims[indices[row]]
    return indices, values


class TagDecoder:
    """Decodes many images at once: per batch, one normalised matrix product and one top-k;
    the vote count per image is a small sort of its samples x nearest choices."""

    def __init__(self, vocabulary: Vocabulary, nearest: int = 20, top: int = 10,
                 max_entries: int = 1 << 25, device: str | torch.device = "cpu"):
        self.vocabulary, self.nearest, self.top = vocabulary, nearest, top
        self.max_entries = max_entries  # bound on one similarity matrix (floats)
        self.device = torch.device(device)
        self.unit_t = vocabulary.unit.to(self.device).T.contiguous()

    def decode(self, samples: np.ndarray | torch.Tensor) -> list[np.ndarray]:
        """``samples``: (images, n, d) generated vectors -> per image, the indices (into the
        vocabulary) of its up to ``top`` tags, best first."""
        return [rank_votes(chosen, scores, self.top) for chosen, scores in self._choices(samples)]

    def votes(self, samples: np.ndarray | torch.Tensor, count: int = 20) -> list[list[tuple[str, int]]]:
        """What the voting chose from: per image of (images, n, d) samples, the ``count`` words
        chosen most often among the samples' ``nearest`` words, with their counts, in the order
        of ``decode`` (its first ``top`` words are the decoded tags)."""
        out = []
        for chosen, scores in self._choices(samples):
            counts = dict(zip(*np.unique(chosen, return_counts=True)))
            out.append([(self.vocabulary.words[i], int(counts[i])) for i in rank_votes(chosen, scores, count)])
        return out

    @torch.no_grad()
    def _choices(self, samples: np.ndarray | torch.Tensor) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Per image, the vocabulary indices of its samples' ``nearest`` words and their cosines,
        computed in chunks of at most ``max_entries`` similarities."""
        samples = torch.as_tensor(samples, dtype=torch.float32)
        if samples.ndim != 3 or samples.shape[2] != self.unit_t.shape[0]:
            raise ValueError(f"samples must be (images, n, {self.unit_t.shape[0]}), got {tuple(samples.shape)}")
        images, n, _ = samples.shape
        per_batch = max(1, self.max_entries // max(1, n * len(self.vocabulary)))
        for start in range(0, images, per_batch):
            chunk = samples[start:start + per_batch].to(self.device)
            rows = torch.nn.functional.normalize(chunk.reshape(-1, chunk.shape[2]), dim=1)
            indices, values = nearest_words(rows @ self.unit_t, self.nearest)
            yield from zip(indices.view(len(chunk), -1).cpu().numpy(), values.view(len(chunk), -1).cpu().numpy())

    def words(self, decoded: list[np.ndarray]) -> list[list[str]]:
        return [[self.vocabulary.words[i] for i in row] for row in decoded]


def decode_tags(samples: np.ndarray, vectors: np.ndarray, words: Sequence[str],
                nearest: int = 20, top: int = 10) -> list[str]:
    """The paper's tag list for one image: ``samples`` (n, d) generated vectors, ``vectors``
    (V, d) the vocabulary's word vectors (any length), ``words`` their V words. Returns the
    ``top`` words chosen most often among each sample's ``nearest`` words (see the module
    docstring for ties)."""
    decoder = TagDecoder(Vocabulary(vectors, list(words)), nearest, top)
    return decoder.words(decoder.decode(np.asarray(samples, dtype=np.float32)[None]))[0]
