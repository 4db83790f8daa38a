"""What the Flickr experiment does differently from the paper (§4.2), for the header of every table."""

from __future__ import annotations

from cgan.config import config_changes, to_dict
from cgan.runs.paths import REPO_ROOT
from multimodal.inputs import Context
from multimodal.settings import load_experiment

PAPER_CONFIG = "experiments/flickr/flickr_cgan.yaml"  # the paper's settings, each value's source named


def settings_departures(cfg) -> list[str]:
    """The settings in which ``cfg`` differs from the paper's config (read from both, so the header
    cannot drift from what was run); the encoders are described by their own items."""
    changes = config_changes(to_dict(load_experiment(REPO_ROOT / PAPER_CONFIG)), to_dict(cfg), ("encoders.",))
    if not changes:
        return []
    return [f"Settings changed from `{PAPER_CONFIG}` (the paper's settings; each change's reason and measurement "
            f"are in `{cfg.name}`'s config, some beyond the paper): "
            + "; ".join(f"`{key}` {before} -> {after}" for key, before, after in changes) + "."]


def deviations(context: Context) -> list[str]:
    """What differs from the paper (§4.2), for the header of every table: backbone and feature
    dimension, word-vector corpus and vocabulary, image resolution and subset, our choices."""
    cfg, stats = context.cfg, context.data.stats
    splits = stats["splits"]
    # The encoders' own reports say how they depart from the paper; without them, a summary.
    items = [f"Image features: {d}" for d in context.reports.get("features", {}).get("deviations", [])] or [
        f"Image features: {stats['backbone']}, {stats['feature_dim']:,}-d (paper: 4,096-d last fully-connected "
        "layer of a CNN trained on the full ImageNet, 21,000 classes)."]
    items += [f"Word vectors: {d}" for d in context.reports.get("wordvecs", {}).get("deviations", [])] or [
        f"Word vectors: vocabulary of {stats['vocabulary']:,} words (paper: 247,465, skip-gram trained on "
        "YFCC100M user tags, titles and descriptions)."]
    side = (stats.get("image_side_px") or {}).get("max")
    if side and side < 500 and "features" not in context.reports:
        items.append(f"Resolution: images at most {side} px on a side (official: up to 500 px).")
    if stats["images_in_dataset"] != 25000 and "features" not in context.reports:
        items.append(f"Subset: {stats['images_in_dataset']:,} images of MIR Flickr's 25,000 are present "
                     "(the 'cleaned' subset: images with at least one common tag and at least one concept).")
    oov = stats["out_of_vocabulary"]["train"]
    items += [
        f"Split (paper: none given; it trained on the first 150,000 pairs): images 1-{cfg.data.train_max_image_id:,} "
        f"train, of which the last {splits['valid']['images']:,} validate; the rest test. Train "
        f"{splits['train']['images']:,} images / {splits['train']['pairs']:,} pairs, validation "
        f"{splits['valid']['images']:,} / {splits['valid']['pairs']:,}, test {splits['test']['images']:,} / "
        f"{splits['test']['pairs']:,}; {stats['left_out_untagged']:,} untagged image(s) left out; "
        f"{oov['dropped']:,} of {oov['tags']:,} training tags ({oov['distinct_dropped']:,} distinct words) "
        "dropped for lacking a word vector.",
        f"Stopping point (paper: none given): the epoch with the best validation P@{cfg.eval.top}"
        + (f" among those whose validation tags use at least {cfg.eval.min_distinct_words:,} distinct words "
           "(eval.min_distinct_words)." if cfg.eval.min_distinct_words else "."),
        f"Inputs (paper silent): image features scaled '{cfg.data.feature_scaling}'; word vectors "
        f"{'centred on the vocabulary mean, ' if cfg.data.center_word_vectors else ''}"
        f"{'scaled to unit length' if cfg.data.unit_word_vectors else 'as trained'} (targets and decoding alike)"
        + (f"; both then of length {cfg.data.vector_length:g} as the networks see them."
           if cfg.data.vector_length != 1.0 else "."),
        f"Decoding (paper silent on ties): count ties go to the higher summed cosine, then alphabetical; "
        f"vocabulary: {'every word with a vector' if cfg.eval.vocabulary == 'all' else 'training tags only'}.",
    ]
    return items + settings_departures(cfg)
