"""Decoding generated vectors into tags (paper §4.2) on vectors whose answer is known, the tie
rules, the batched path against a brute-force reference, and the tagging scores."""

import numpy as np
import pytest
import torch

from multimodal.metrics import tag_scores
from multimodal.tag_decoder import TagDecoder, Vocabulary, decode_tags, nearest_words, rank_votes
from tests.data_paths import real_root

pytestmark = pytest.mark.usefixtures("one_thread")

COMPASS = {"east": (1, 0), "north": (0, 1), "west": (-1, 0), "south": (0, -1), "northeast": (3, 3)}


def test_decode_tags_counts_the_nearest_words_of_every_sample():
    words, vectors = list(COMPASS), np.array(list(COMPASS.values()), dtype=np.float32)
    samples = np.array([[1, 0.1], [0.1, 1], [1, -0.2]], dtype=np.float32)
    # nearest 2 of each: {east, northeast}, {north, northeast}, {east, northeast}
    assert decode_tags(samples, vectors, words, nearest=2, top=3) == ["northeast", "east", "north"]
    assert decode_tags(samples, vectors, words, nearest=2, top=10) == ["northeast", "east", "north"]
    assert decode_tags(samples * 50, vectors, words, nearest=1, top=2) == ["east", "north"]  # cosine: scale-free


def test_count_ties_go_to_the_higher_summed_cosine_then_alphabetical():
    words = ["zebra", "apple", "mango"]
    vectors = np.array([[1, 0], [0, 1], [-1, 0]], dtype=np.float32)
    # each sample picks zebra and apple (count 2 each); zebra's cosines sum higher
    samples = np.array([[1, 0.2], [0.3, 1]], dtype=np.float32)
    assert decode_tags(samples, vectors, words, nearest=2, top=2) == ["zebra", "apple"]
    # mirror image: the sums tie exactly too, so the alphabetically first word wins
    samples = np.array([[1, 1]], dtype=np.float32)
    assert decode_tags(samples, vectors, words, nearest=2, top=1) == ["apple"]
    # a cosine tie at the edge of the nearest words also goes to the alphabetically first
    assert decode_tags(samples, vectors, words, nearest=1, top=5) == ["apple"]


def test_nearest_words_breaks_edge_ties_by_lowest_index():
    similarity = torch.tensor([[0.5, 0.9, 0.5, 0.5, 0.1], [0.2, 0.1, 0.3, 0.0, 0.4]])
    indices, values = nearest_words(similarity, 2)
    assert sorted(indices[0].tolist()) == [0, 1] and sorted(indices[1].tolist()) == [2, 4]
    assert values[0].tolist() == pytest.approx([0.9, 0.5])
    indices, _ = nearest_words(similarity, 3)
    assert sorted(indices[0].tolist()) == [0, 1, 2]
    assert nearest_words(similarity, 9)[0].shape == (2, 5)  # k larger than the vocabulary


def test_rank_votes_orders_by_count_then_score_then_index():
    chosen = np.array([4, 2, 2, 7, 7, 9])
    scores = np.array([0.1, 0.3, 0.3, 0.4, 0.1, 0.5])
    assert rank_votes(chosen, scores, 10).tolist() == [2, 7, 9, 4]
    assert rank_votes(chosen, np.zeros(6), 3).tolist() == [2, 7, 4]
    assert rank_votes(np.array([], dtype=np.int64), np.array([]), 3).tolist() == []


def brute_force(samples, vectors, words, nearest, top):
    """The definition, one sample and one word at a time, in float64."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    counts, sums = {}, {}
    for sample in samples:
        cos = unit @ (sample / np.linalg.norm(sample))
        for i in sorted(range(len(words)), key=lambda i: (-cos[i], words[i]))[:nearest]:
            counts[words[i]] = counts.get(words[i], 0) + 1
            sums[words[i]] = sums.get(words[i], 0.0) + cos[i]
    return sorted(counts, key=lambda w: (-counts[w], -sums[w], w))[:top]


def test_batched_decoding_matches_the_definition():
    rng = np.random.default_rng(0)
    words = [f"w{i:03d}" for i in rng.permutation(60)]
    vectors = rng.normal(size=(60, 16)).astype(np.float32)
    samples = rng.normal(size=(9, 13, 16)).astype(np.float32)
    decoder = TagDecoder(Vocabulary(vectors, words), nearest=5, top=4, max_entries=13 * 60 * 2)  # 2 images a batch
    batched = decoder.words(decoder.decode(samples))
    assert len(batched) == 9
    for image, tags in zip(samples, batched):
        assert tags == decode_tags(image, vectors, words, nearest=5, top=4)
        assert tags == brute_force(image.astype(np.float64), vectors.astype(np.float64), words, 5, 4)


def test_vocabulary_checks_its_input():
    with pytest.raises(ValueError, match="repeats"):
        Vocabulary(np.eye(2), ["a", "a"])
    with pytest.raises(ValueError, match=r"\(V, d\)"):
        Vocabulary(np.eye(3), ["a", "b"])
    vocabulary = Vocabulary(np.array([[0, 0], [2, 0]]), ["zero", "x"])
    assert vocabulary.words == ["x", "zero"] and vocabulary.unit.tolist() == [[1, 0], [0, 0]]
    assert vocabulary.restricted({"zero"}).words == ["zero"]


def test_tag_scores_precision_recall_and_coverage():
    predicted = [["a", "b", "c"], ["x", "y"], ["a"]]
    truth = [["a", "c", "d", "e"], ["q"], ["a", "oov"]]
    scores = tag_scores(predicted, truth, top=10, vocabulary={"a", "b", "c", "d", "e", "q", "x", "y"})
    assert scores["precision@10"] == pytest.approx((2 / 10 + 0 + 1 / 10) / 3)
    assert scores["recall@10"] == pytest.approx((2 / 4 + 0 + 1 / 2) / 3)
    assert scores["recall@10_in_vocabulary"] == pytest.approx((2 / 4 + 0 + 1) / 3)  # 'oov' not counted
    assert scores["any_hit@10"] == pytest.approx(2 / 3) and scores["distinct_words"] == 5
    per_image = [0.2, 0.0, 0.1]  # the standard error of the mean over images: sd (ddof 1) / sqrt(n)
    assert scores["precision@10_se"] == pytest.approx(float(np.std(per_image, ddof=1) / np.sqrt(3)))
    assert tag_scores([["a", "b"]], [["b"]], top=1)["precision@1"] == 0  # only the first `top` count
    with pytest.raises(ValueError):
        tag_scores([["a"]], [], top=1)


def test_decoding_into_the_training_tags_skips_words_no_training_image_has():
    from types import SimpleNamespace

    from multimodal.data import ImageSplit, TagData
    from multimodal.sampling import make_decoder

    words, vectors = list(COMPASS), np.array(list(COMPASS.values()), dtype=np.float32)
    train = ImageSplit("train", np.array([1]), np.array([0]), [["east", "north"]],
                       pair_image=np.array([0, 0]), pair_word=np.array([0, 1]))  # only east and north are tags
    data = TagData(train, train, train, np.zeros((1, 2), np.float32), np.zeros((1, 2), np.float32), words, vectors, {})
    samples = np.array([[[1, 1.1], [1.1, 1]]], dtype=np.float32)  # nearest word overall: northeast
    settings = SimpleNamespace(eval=SimpleNamespace(vocabulary="all", nearest=1, top=2))
    everything = make_decoder(settings, data)
    assert everything.words(everything.decode(samples)) == [["northeast"]]
    settings.eval.vocabulary = "tags"
    tags_only = make_decoder(settings, data)
    assert len(tags_only.vocabulary) == 2
    assert tags_only.words(tags_only.decode(samples)) == [["east", "north"]]  # one vote each, equal cosines: alphabetical


def test_votes_count_each_word_over_the_samples_nearest_words_in_the_decoding_order():
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], dtype=np.float32)
    decoder = TagDecoder(Vocabulary(vectors, ["a", "b", "c", "d"]), nearest=2, top=2)
    samples = np.array([[[1, 0], [1, 0.05], [0.1, 1]]], dtype=np.float32)  # two near a/b, one near c/b
    votes = decoder.votes(samples, count=4)[0]
    assert votes == [("b", 3), ("a", 2), ("c", 1)]  # "d" is never among the 2 nearest
    assert [word for word, _ in votes[:2]] == decoder.words(decoder.decode(samples))[0]


def test_the_shipped_tagger_gives_real_test_photos_their_own_tags(one_thread):
    """weights/: the Table 2 generator tags real MIR Flickr test photos (numbers above 15,000) with
    words of its vocabulary that match each photo's own user tags more often than another photo's
    (the tags depend on the image), and not with one list for every photo."""
    from features.mirflickr import MirFlickr
    from multimodal.api import DEFAULT_WEIGHTS, load_tagger

    assert DEFAULT_WEIGHTS.is_file(), "weights/ ships the generator of Table 2"
    flickr = MirFlickr.at(real_root("mirflickr25k"))
    numbers = [n for n in flickr.image_numbers if n > 15000 and len(flickr.tags(n)) >= 3][:40]
    tagger = load_tagger(DEFAULT_WEIGHTS)
    assert repr(tagger) == f"FlickrTagger({DEFAULT_WEIGHTS.stem!r}, efficientnet-lite0 features, 1375 words, 10 tags per image)"
    tags = tagger.tag_images([flickr.images_dir / f"im{n}.jpg" for n in numbers], seed=0)
    own = [{t.lower() for t in flickr.tags(n)} for n in numbers]
    assert all(len(t) == 10 and set(t) <= set(tagger.vocabulary.words) for t in tags)
    assert len({w for t in tags for w in t}) >= 40

    def hits(pairing):
        return np.mean([len(set(t) & own[j]) for t, j in zip(tags, pairing)])

    assert hits(range(len(numbers))) > 1.5 * hits(np.roll(np.arange(len(numbers)), 7))
