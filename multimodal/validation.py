"""The per-epoch validation score of a Flickr generator (CGAN or regressor): P@10 and R@10 of its
decoded tags on the validation images, per sampling mode, with fixed noise (cgan.validation)."""

from __future__ import annotations

from cgan.networks import TowerNet
from cgan.validation import ValidationScore
from multimodal.data import ImageSplit, TagData
from multimodal.metrics import condition_gap, sample_cosine, tag_scores
from multimodal.sampling import Sampling, iter_samples
from multimodal.settings import FlickrExperiment
from multimodal.tag_decoder import TagDecoder


def validation_score(net: TowerNet, cfg: FlickrExperiment, data: TagData, decoder: TagDecoder,
                     samplings: dict[str, Sampling], discriminator: TowerNet | None = None) -> ValidationScore:
    """The first mode's P@10 is the 'score' that keeps the best checkpoint (minus 1 on epochs with
    fewer distinct validation words than eval.min_distinct_words, when set). Beside it, the
    collapse diagnostics: distinct words over the validation images, the mean pairwise cosine
    among one image's samples, and (with a ``discriminator``) D's mean output on validation
    tags with their own image and with another one."""
    split = _head(data.valid, cfg.eval.valid_images or len(data.valid))
    top = cfg.eval.top
    features = data.features[split.rows]

    def measure(mode: str) -> dict[str, float]:
        how, tags, cosine = samplings[mode], [], 0.0
        for batch in iter_samples(net, features, how, cfg.eval.seed, cfg.eval.batch_images):
            tags.extend(decoder.words(decoder.decode(batch)))
            cosine += sample_cosine(batch) * len(batch)
        scores = tag_scores(tags, split.tags, top)
        values = {"valid_precision": scores[f"precision@{top}"], "valid_recall": scores[f"recall@{top}"],
                  "valid_distinct_words": scores["distinct_words"]}
        if how.count > 1:
            values["valid_sample_cosine"] = cosine / len(split)
        if cfg.eval.min_distinct_words:
            values["valid_selection_score"] = selection_score(values, cfg.eval.min_distinct_words)
        return values

    def d_uses_image() -> dict[str, float]:
        return {f"valid_{k}": v for k, v in condition_gap(discriminator, data, data.valid, cfg.eval.seed).items()}

    score_key = "valid_selection_score" if cfg.eval.min_distinct_words else "valid_precision"
    return ValidationScore(list(samplings), measure, score_key, cfg.eval.every_epochs,
                           extra=None if discriminator is None else d_uses_image)


def selection_score(values: dict[str, float], min_distinct_words: int) -> float:
    """P@10, or P@10 - 1 when the tags use fewer than ``min_distinct_words`` distinct words: a
    collapsed epoch never beats a varied one, yet epochs stay ordered when none is varied."""
    eligible = values["valid_distinct_words"] >= min_distinct_words
    return values["valid_precision"] - (0.0 if eligible else 1.0)


def _head(split: ImageSplit, count: int) -> ImageSplit:
    """The first ``count`` images of a split (their pairs are not needed for scoring)."""
    return ImageSplit(split.name, split.numbers[:count], split.rows[:count], split.tags[:count],
                      split.pair_image[:0], split.pair_word[:0])
