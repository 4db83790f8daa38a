"""The per-epoch validation score of a Flickr generator (CGAN or regressor): P@10 and R@10 of its
decoded tags on the validation images, per sampling mode, with fixed noise (cgan.validation)."""

from __future__ import annotations

from cgan.layers import TowerNet
from cgan.validation import ValidationScore
from multimodal.data import ImageSplit, TagData
from multimodal.experiment import FlickrExperiment
from multimodal.metrics import tag_scores
from multimodal.sampling import Sampling, network_tags
from multimodal.tagging import TagDecoder


def validation_score(net: TowerNet, cfg: FlickrExperiment, data: TagData, decoder: TagDecoder,
                     samplings: dict[str, Sampling]) -> ValidationScore:
    """The first mode's P@10 is the 'score' that keeps the best checkpoint."""
    split = _head(data.valid, cfg.eval.valid_images or len(data.valid))
    top = cfg.eval.top

    def measure(mode: str) -> dict[str, float]:
        tags = network_tags(net, data, split, samplings[mode], cfg.eval.seed, decoder, cfg.eval.batch_images)
        scores = tag_scores(tags, split.tags, top)
        return {"valid_precision": scores[f"precision@{top}"], "valid_recall": scores[f"recall@{top}"]}

    return ValidationScore(list(samplings), measure, "valid_precision", cfg.eval.every_epochs)


def _head(split: ImageSplit, count: int) -> ImageSplit:
    """The first ``count`` images of a split (their pairs are not needed for scoring)."""
    return ImageSplit(split.name, split.numbers[:count], split.rows[:count], split.tags[:count],
                      split.pair_image[:0], split.pair_word[:0])
