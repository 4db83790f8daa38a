"""Baselines for the tagging scores, all ranking words by the rule of ``tagging.rank_votes``:

(a) ``frequent_tags``: the most frequent training tags, the same list for every image;
(b) ``neighbour_tags``: the k training images most similar by cosine of their image features
    vote with their tags (a vote weighs 1; ties go to the higher summed similarity);
(c) ``RegressorTrainer``: the generator's network with its noise input zeroed, trained to hit
    the tag's word vector; decoded like the CGAN.
Every method learns from the same training (image, tag) pairs.
"""

from __future__ import annotations

import numpy as np
import torch

from cgan.networks import TowerNet
from cgan.training import Trainer
from multimodal.data import ImageSplit, TagData
from multimodal.tag_decoder import Vocabulary, nearest_words, rank_votes, unit_rows


def image_words(split: ImageSplit, data: TagData, vocabulary: Vocabulary) -> list[np.ndarray]:
    """Per image of ``split``, the vocabulary indices of its training tags (its pairs)."""
    index = np.array([vocabulary.index.get(w, -1) for w in data.words])
    per_image: list[list[int]] = [[] for _ in range(len(split))]
    for image, word in zip(split.pair_image, index[split.pair_word]):
        if word >= 0:
            per_image[image].append(int(word))
    return [np.array(words, dtype=np.int64) for words in per_image]


def frequent_tags(data: TagData, vocabulary: Vocabulary, top: int) -> np.ndarray:
    """(a) The ``top`` most frequent tags of the training pairs (ties alphabetical)."""
    words = np.concatenate(image_words(data.train, data, vocabulary))
    return rank_votes(words, np.zeros(len(words)), top)


def neighbour_tags(data: TagData, split: ImageSplit, vocabulary: Vocabulary, ks: list[int], top: int,
                   batch: int = 256) -> dict[int, list[np.ndarray]]:
    """(b) For each k in ``ks``, per image of ``split``: the tags voted by its k nearest
    training images (cosine similarity of the stored image features)."""
    train = torch.from_numpy(unit_rows(np.asarray(data.raw_features[data.train.rows])))
    train_words = image_words(data.train, data, vocabulary)
    k_max = min(max(ks), len(train))
    out: dict[int, list[np.ndarray]] = {k: [] for k in ks}
    for start in range(0, len(split), batch):
        query = torch.from_numpy(unit_rows(np.asarray(data.raw_features[split.rows[start:start + batch]])))
        neighbours, similarity = (t.numpy() for t in nearest_words(query @ train.T, k_max))
        for near, sims in zip(neighbours, similarity):
            for k in ks:
                chosen = [train_words[j] for j in near[:k]]
                scores = [np.full(len(w), s, dtype=np.float64) for w, s in zip(chosen, sims[:k])]
                out[k].append(rank_votes(np.concatenate(chosen), np.concatenate(scores), top))
    return out


class RegressorTrainer(Trainer):
    """(c) Trains the generator's network alone, with the CGAN's SGD, schedules, dropout,
    checkpoints, resumption and validation: only the update differs. The noise input is zero.

    Losses: 'mse' = squared distance to the target vector (summed over its dimensions, averaged
    over the batch); 'cosine' = 1 - cosine similarity.
    """

    STATS = ("g_loss",)

    def __init__(self, network: TowerNet, *args, loss: str = "mse", noise_dim: int, **kwargs):
        super().__init__({"generator": network}, *args, **kwargs)
        self.generator, self.loss, self.noise_dim = network, loss, noise_dim
        self.g_params = list(network.parameters())

    def update(self, data: torch.Tensor, condition: torch.Tensor | None, lr: float, momentum: float,
               labels: torch.Tensor | None = None) -> torch.Tensor:
        z = torch.zeros(len(data), self.noise_dim, device=self.device)
        output = self.generator.sample(z, condition)
        if self.loss == "mse":
            loss = (output - data).pow(2).sum(dim=1).mean()
        else:
            loss = 1 - torch.nn.functional.cosine_similarity(output, data, dim=1).mean()
        grads = torch.autograd.grad(loss, self.g_params)
        self.optimizer.step(list(grads), lr, momentum)
        return loss.detach().reshape(1)
