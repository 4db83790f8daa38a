"""The collapse measures of multimodal.metrics on hand-made data with known answers: D's use of
the image, and the spread of one image's samples (the tag scores: test_multimodal_tagging.py)."""

import numpy as np
import pytest
import torch

from multimodal.data import ImageSplit, TagData
from multimodal.metrics import condition_gap, sample_cosine

WORDS = ["cat", "dog", "sea", "sky", "tree"]


def tiny_data() -> tuple[TagData, ImageSplit]:
    vectors = np.eye(5, dtype=np.float32)  # orthogonal words: each decodes only to itself
    split = ImageSplit("test", np.array([1, 2, 3]), np.array([0, 1, 2]),
                       tags=[["cat", "dog"], ["sea"], ["sky", "unknownword"]],
                       pair_image=np.array([0, 0, 1, 2]), pair_word=np.array([0, 1, 2, 3]))
    features = np.eye(3, 4, dtype=np.float32)
    data = TagData(split, split, split, features, features, WORDS, vectors, {})
    return data, split


class MatchingD(torch.nn.Module):
    """Logit +5 when the word's index equals the image's, -5 otherwise; or 0 when ``blind``."""

    def __init__(self, blind: bool):
        super().__init__()
        self.blind = blind
        self.unused = torch.nn.Parameter(torch.zeros(1))
        self.dropout = None  # as a TowerNet: no mask source attached

    def forward(self, words, images):
        if self.blind:
            return torch.zeros(len(words), 1)
        match = (words[:, :3] * images[:, :3]).sum(dim=1, keepdim=True)
        return 10 * match - 5


def test_condition_gap_tells_a_discriminator_that_reads_the_image_from_one_that_does_not():
    data, split = tiny_data()
    split.pair_image, split.pair_word = np.array([0, 1, 2] * 4), np.array([0, 1, 2] * 4)  # word i on image i
    blind = condition_gap(MatchingD(blind=True), data, split)
    assert blind["d_matched"] == pytest.approx(blind["d_mismatched"]) == pytest.approx(0.5)
    reading = condition_gap(MatchingD(blind=False), data, split)
    assert reading["d_matched"] == pytest.approx(torch.sigmoid(torch.tensor(5.0)).item())
    assert reading["d_mismatched"] == pytest.approx(torch.sigmoid(torch.tensor(-5.0)).item())  # never its own


def test_sample_cosine_is_one_for_copies_and_near_zero_for_random_directions():
    copies = torch.ones(3, 5, 8)
    assert sample_cosine(copies) == pytest.approx(1.0)
    random = torch.randn(2, 200, 512, generator=torch.Generator().manual_seed(0))
    assert abs(sample_cosine(random)) < 0.01
    opposite = torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]])
    assert sample_cosine(opposite) == pytest.approx(-1.0)
