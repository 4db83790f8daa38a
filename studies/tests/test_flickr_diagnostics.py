"""The Flickr diagnostics report on hand-made data with known answers: the decoding ceiling, and
runs' per-epoch collapse measures read back and rendered."""

import numpy as np
import pytest

from multimodal.data import ImageSplit, TagData
from multimodal.tag_decoder import TagDecoder, Vocabulary
from studies.flickr_diagnostics import ceiling_samples, decoding_ceiling
from tests.test_multimodal_metrics import WORDS, tiny_data


def test_the_ceiling_of_exact_tag_vectors_finds_every_tag_that_has_a_vector():
    data, split = tiny_data()
    decoder = TagDecoder(Vocabulary(data.word_vectors, WORDS), nearest=1, top=10)
    scores = decoding_ceiling(data, split, decoder, count=4, top=10, noise_levels=(0.0,))["0"]
    # hits: 2 of 2, 1 of 1, 1 of 2 (one tag has no vector) -> recall (1 + 1 + 0.5) / 3
    assert scores["recall@10"] == pytest.approx(2.5 / 3)
    assert scores["recall@10_in_vocabulary"] == pytest.approx(1.0)
    assert scores["precision@10"] == pytest.approx((2 + 1 + 1) / 30)


def test_the_mean_ceiling_decodes_one_vector_per_image_the_direction_of_its_tags_mean():
    # "pet" lies exactly between "cat" and "dog": an image tagged cat + dog has its tags' mean on
    # "pet", which the nearest word then is, while its samples (the tags themselves) find both tags.
    vectors = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1]], dtype=np.float32)
    words = ["cat", "dog", "pet", "sea"]
    split = ImageSplit("test", np.array([1, 2]), np.array([0, 1]), tags=[["cat", "dog"], ["sea"]],
                       pair_image=np.array([0, 0, 1]), pair_word=np.array([0, 1, 3]))
    data = TagData(split, split, split, np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32), words, vectors, {})
    decoder = TagDecoder(Vocabulary(vectors, words), nearest=1, top=2)
    scores = decoding_ceiling(data, split, decoder, count=2, top=2, noise_levels=(0.0,))
    assert scores["0"]["recall@2"] == pytest.approx(1.0)  # both tags of image 1, the tag of image 2
    assert scores["mean"]["recall@2"] == pytest.approx(0.5)  # image 1 gets "pet" only
    assert decoding_ceiling(data, split, decoder, 2, 2, noise_levels=(0.0,), mean=False).keys() == {"0"}


def test_ceiling_samples_cycle_the_own_tags_and_noise_has_the_asked_norm():
    vectors = np.eye(5, dtype=np.float32)
    samples = ceiling_samples(vectors, [np.array([0, 1]), np.array([], dtype=np.int64)], 4, 0.0,
                              np.random.default_rng(0))
    assert samples.shape == (2, 4, 5)
    np.testing.assert_array_equal(samples[0].argmax(axis=1), [0, 1, 0, 1])
    assert not samples[1].any()  # no tag with a vector: nothing to decode
    noisy = ceiling_samples(np.eye(400, dtype=np.float32), [np.arange(400)], 400, 0.5, np.random.default_rng(0))
    noise = noisy[0] - np.eye(400, dtype=np.float32)
    assert np.linalg.norm(noise, axis=1).mean() == pytest.approx(0.5, rel=0.05)


def test_run_diagnostics_are_read_per_epoch_and_rendered_with_the_gap(tmp_path):
    import json

    from cgan.errors import UserFacingError
    from studies.flickr_diagnostics import plot_runs, render, run_epochs

    history = [{"epoch": 1, "valid_precision": 0.2, "valid_distinct_words": 300, "valid_sample_cosine": 0.5,
                "valid_d_matched": 0.7, "valid_d_mismatched": 0.4, "d_loss": 0.6},
               {"epoch": 2, "valid_precision": 0.25, "valid_distinct_words": 12}]  # older runs lack some columns
    (tmp_path / "history.json").write_text(json.dumps(history))
    epochs = run_epochs(tmp_path)
    assert epochs[0]["valid_d_matched"] == 0.7 and epochs[1]["valid_d_matched"] is None
    scores = {"precision@10": 0.27, "recall@10": 0.39, "recall@10_in_vocabulary": 0.4, "distinct_words": 1776}
    record = {"ceiling": {"paper": {"vocabulary": 3795, "nearest": 20, "scores": {"test": {"0": scores}}}},
              "samples": 100, "runs": {"paper D": {"run": "runs/x", "epochs": epochs}},
              "provenance": {"command": "c", "commit": "abc", "date": "d", "wall_seconds": 1.0}}
    text = render(record)
    assert "| paper | 3,795 | test | 0 | 0.270 |" in text
    assert "| 1 | 0.200 | 300 | 0.500 | 0.700 | 0.400 | +0.300 |" in text and "| 2 | 0.250 | 12 | — | — | — | — |" in text
    plot_runs(record["runs"], tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 1000
    with pytest.raises(UserFacingError, match="history.json"):
        run_epochs(tmp_path / "missing")
