"""Baselines tuned like the method (results/flickr/baselines/): every setting is chosen on the
validation images' P@10 and the chosen one is scored once on the test images.

(d) ``neighbour_votes``: nearest-neighbour tag transfer in the spirit of TagProp (Guillaumin et al.
    2009; Verbeek et al. 2010 on MIR Flickr): the features centred on the training mean and
    scaled to unit length (``FeatureScaling('center_l2')``), cosine similarity, and the k nearest
    training images vote with weights that fall with distance (``Weighting``): a word's score is
    the summed weight of the neighbours that carry it.
(e) ``fit_logistic``: one L2-regularised logistic regression per label (a MIR Flickr concept, or
    one of the most frequent training tags) on the standardised features; labels ranked by
    probability become tag words (``concept_scores`` fills the concepts' list with frequent tags).
(f) Limits: ``concept_scores`` of the true concepts is what a perfect concept classifier, filled
    with frequent tags, would score.

Every method ends in a score per (image, vocabulary word) and one ranking rule, ``ranked``: by
score, then by a tie-break score (the summed cosine of the voters, as ``tagging.rank_votes``),
then by the lower index (alphabetical order of a Vocabulary); words not ``present`` never appear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from multimodal.tag_decoder import nearest_words


@dataclass(frozen=True)
class Weighting:
    """How much the r-th nearest neighbour's vote weighs (r = 0 for the nearest, s its cosine):
    'uniform' 1 (a count, as baseline (b)); 'similarity' exp(s / scale), TagProp's distance-based
    weights; 'rank' exp(-r / scale), a smooth version of TagProp's rank-based weights."""

    kind: str
    scale: float | None = None

    def __post_init__(self):
        if self.kind not in ("uniform", "similarity", "rank"):
            raise ValueError(f"unknown weighting {self.kind!r}: uniform, similarity or rank")
        if (self.kind == "uniform") != (self.scale is None) or (self.scale is not None and self.scale <= 0):
            raise ValueError(f"weighting {self.kind!r} needs {'no' if self.kind == 'uniform' else 'a positive'} scale")

    @property
    def label(self) -> str:
        if self.kind == "uniform":
            return "uniform"
        return f"exp(sim/{self.scale:g})" if self.kind == "similarity" else f"exp(-rank/{self.scale:g})"

    def weights(self, similarity: torch.Tensor) -> torch.Tensor:
        """(queries, k) weights for the (queries, k) cosines of their neighbours, nearest first.
        Only the order of one query's word scores matters, so exp(s / T) is taken relative to
        the nearest neighbour's (no overflow at small T)."""
        if self.kind == "uniform":
            return torch.ones_like(similarity)
        if self.kind == "similarity":
            return torch.exp((similarity - similarity[:, :1]) / self.scale)
        ranks = torch.arange(similarity.shape[1], dtype=similarity.dtype)
        return torch.exp(-ranks / self.scale).expand_as(similarity)


def label_matrix(per_image: list[np.ndarray], size: int) -> np.ndarray:
    """(images, size) float32 0/1: row i has ones at the indices ``per_image[i]``."""
    out = np.zeros((len(per_image), size), dtype=np.float32)
    for row, labels in enumerate(per_image):
        out[row, np.asarray(labels, dtype=np.int64)] = 1.0
    return out


def ranked(scores: np.ndarray, top: int, tiebreak: np.ndarray | None = None,
           present: np.ndarray | None = None) -> list[np.ndarray]:
    """Per row of (images, words) ``scores``: the indices of its ``top`` best words by score, then
    ``tiebreak`` (higher first), then lower index; only words where ``present`` (default: score
    > 0), so a list may be shorter than ``top``."""
    scores = np.asarray(scores, dtype=np.float64)
    tiebreak = np.zeros_like(scores) if tiebreak is None else np.asarray(tiebreak, dtype=np.float64)
    present = scores > 0 if present is None else np.asarray(present, dtype=bool)
    index = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    order = np.lexsort((index, -tiebreak, -scores), axis=-1)[:, :top]
    return [row[keep[row]] for row, keep in zip(order, present)]


@torch.no_grad()
def neighbour_votes(query: np.ndarray, train: np.ndarray, labels: np.ndarray, ks: list[int],
                    weightings: list[Weighting], top: int, batch: int = 64
                    ) -> dict[tuple[int, Weighting], list[np.ndarray]]:
    """(d) For every k in ``ks`` and weighting, per row of ``query``: its ``top`` words voted by
    its k nearest rows of ``train`` by dot product (cosine for unit rows); ``labels`` (train
    rows, words) 0/1 says which words each training image carries. Ties in weighted votes go to
    the higher summed cosine of the voters, then to the lower index; a word nobody voted for is
    never chosen. One neighbour search serves the whole grid."""
    train_t, labels_t = torch.from_numpy(np.asarray(train, np.float32)), torch.from_numpy(labels)
    k_max = min(max(ks), len(train_t))
    out: dict[tuple[int, Weighting], list[np.ndarray]] = {(k, w): [] for k in ks for w in weightings}
    for start in range(0, len(query), batch):
        chunk = torch.from_numpy(np.asarray(query[start:start + batch], np.float32))
        near, similarity = nearest_words(chunk @ train_t.T, k_max)
        votes = labels_t[near]  # (queries, k_max, words)
        for k in ks:
            voters, sims = votes[:, :k], similarity[:, :k]
            summed = torch.einsum("qk,qkw->qw", sims, voters).numpy()
            present = voters.amax(dim=1).numpy() > 0
            for weighting in weightings:
                score = torch.einsum("qk,qkw->qw", weighting.weights(sims), voters).numpy()
                out[(k, weighting)].extend(ranked(score, top, summed, present))
    return out


@dataclass
class LinearModel:
    """Logistic regressions, one per label: p(label | x) = sigmoid(x @ weight + bias)."""

    weight: torch.Tensor  # (features, labels)
    bias: torch.Tensor  # (labels,)
    c: float
    iterations: int
    gradient_max: float  # largest |gradient| entry of the objective at the end (0 at the optimum)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.sigmoid(torch.from_numpy(np.asarray(x, np.float32)) @ self.weight + self.bias).numpy()


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float, start: LinearModel | None = None,
                 max_iter: int = 300, tolerance: float = 1e-5) -> LinearModel:
    """(e) Per label j, scikit-learn's L2 logistic regression with inverse strength ``c``:
    minimise C * sum_i logloss(y_ij, x_i w_j + b_j) + |w_j|^2 / 2 (the bias unpenalised). All
    labels at once: the sum over j of those objectives, divided by C n, by full-batch L-BFGS
    (the problems are independent, so the joint optimum is each one's), from zero or from
    ``start`` (a fit at a nearby C). Deterministic on one thread."""
    x_t, y_t = torch.from_numpy(np.asarray(x, np.float32)), torch.from_numpy(np.asarray(y, np.float32))
    n = len(x_t)
    weight = (start.weight.clone() if start else torch.zeros(x_t.shape[1], y_t.shape[1])).requires_grad_()
    bias = (start.bias.clone() if start else torch.zeros(y_t.shape[1])).requires_grad_()
    optimizer = torch.optim.LBFGS([weight, bias], lr=1, max_iter=max_iter, tolerance_grad=tolerance,
                                  tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        optimizer.zero_grad()
        logits = x_t @ weight + bias
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y_t, reduction="sum") / n
        loss = loss + weight.pow(2).sum() / (2 * c * n)
        loss.backward()
        return loss

    optimizer.step(objective)
    objective()
    gradient = max(float(p.grad.abs().max()) for p in (weight, bias))
    iterations = optimizer.state[optimizer._params[0]]["n_iter"]
    return LinearModel(weight.detach(), bias.detach(), c, int(iterations), gradient)


def fit_path(x: np.ndarray, y: np.ndarray, cs: list[float], max_iter: int = 300) -> list[LinearModel]:
    """``fit_logistic`` at each C of ``cs``, in ascending order, each started from the previous fit
    (the regularisation path: fewer iterations than from zero, same optima)."""
    models: list[LinearModel] = []
    for c in sorted(cs):
        models.append(fit_logistic(x, y, c, models[-1] if models else None, max_iter))
    return models


def concept_scores(probabilities: np.ndarray, concept_words: np.ndarray, prior: np.ndarray,
                   threshold: float | None) -> np.ndarray:
    """(e) Word scores (images, vocabulary) of a concept classifier, for ``ranked``.
    ``probabilities`` (images, concepts); ``concept_words`` each concept's vocabulary index (-1:
    not in the vocabulary, never emitted); ``prior`` each word's share of training images. With a
    ``threshold``: the concepts with p >= threshold first (by p), then the most frequent training
    tags that are no concept word (the classifier has ruled on those). Without: every word by
    its probability, the classifier's for concept words and the training frequency for the rest
    (the order that maximises expected P@10 if both are calibrated)."""
    known = concept_words >= 0
    words, p = concept_words[known], np.asarray(probabilities, np.float64)[:, known]
    scores = np.tile(np.asarray(prior, np.float64), (len(p), 1))
    if threshold is None:
        scores[:, words] = p
    else:
        scores[:, words] = np.where(p >= threshold, 1.0 + p, -np.inf)  # above any frequency; absent
    return scores


def classifier_scores(probabilities: np.ndarray, label_words: np.ndarray, size: int) -> np.ndarray:
    """(e) Word scores (images, ``size``) of per-tag classifiers: each label's probability at its
    word's index ``label_words``; words without a classifier score 0 (never emitted)."""
    scores = np.zeros((len(probabilities), size))
    scores[:, label_words] = probabilities
    return scores
