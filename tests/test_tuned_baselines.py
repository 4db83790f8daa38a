"""The tuned baselines (multimodal.tuned_baselines) on tiny hand-made data whose answer is known:
weighted kNN returns the cluster's tags, centring changes the neighbours as computed by hand, the
logistic regressions reach scikit-learn's optimum and recover separable concepts, and the concept
lists and the 'concepts only' limit are filled with frequent tags as described."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from cgan.runs.paths import REPO_ROOT
from multimodal.baselines import neighbour_tags
from multimodal.baselines_report import (
    DEFAULT_OUT,
    choose,
    concept_words,
    paired_differences,
    render,
    scores_with_error,
)
from multimodal.data import FeatureScaling, ImageSplit
from multimodal.tag_decoder import Vocabulary
from multimodal.tuned_baselines import (
    Weighting,
    classifier_scores,
    concept_scores,
    fit_logistic,
    fit_path,
    label_matrix,
    neighbour_votes,
    ranked,
)

pytestmark = pytest.mark.usefixtures("one_thread")

WORDS = ["cat", "dog", "grass", "sea", "sky", "sun"]  # vocabulary indices 0..5, alphabetical
ALL_WEIGHTINGS = [Weighting("uniform"), Weighting("similarity", 0.05), Weighting("similarity", 1.0),
                  Weighting("rank", 2.0)]

# Six training images in two clusters of direction: 'beach' (sea, sky, sun) and 'pets' (cat, dog, grass).
CLUSTERS = np.array([[1.0, 0.1, 0.0], [1.0, 0.0, 0.1], [0.9, 0.1, 0.1],
                     [0.0, 1.0, 0.1], [0.1, 1.0, 0.0], [0.1, 0.9, 0.1]], dtype=np.float32)
BEACH, PETS = [3, 4, 5], [0, 1, 2]
CLUSTER_TAGS = [np.array(BEACH[:2]), np.array(BEACH), np.array(BEACH[1:]),
                np.array(PETS[:2]), np.array(PETS), np.array(PETS[1:])]


def unit(x):
    return FeatureScaling("l2").apply(np.asarray(x, dtype=np.float32))


def test_weighted_knn_returns_the_cluster_tags():
    labels = label_matrix(CLUSTER_TAGS, len(WORDS))
    queries = unit([[1.0, 0.05, 0.05], [0.05, 1.0, 0.05]])
    votes = neighbour_votes(queries, unit(CLUSTERS), labels, [3, 6], ALL_WEIGHTINGS, top=3)
    for (k, weighting), rows in votes.items():
        if (k, weighting.kind) != (6, "uniform"):
            assert sorted(rows[0].tolist()) == BEACH, (k, weighting)
            assert sorted(rows[1].tolist()) == PETS, (k, weighting)
    # k = 6 with one vote each is the frequency prior: sky and dog have 3 votes, the summed cosine
    # puts the query's own cluster first; weighted votes at k = 6 still return the cluster
    assert [r[:2].tolist() for r in votes[(6, Weighting("uniform"))]] == [[4, 1], [1, 4]]
    # order within the cluster: 'sky' is carried by all three beach images (votes 3 > 2)
    assert votes[(3, Weighting("uniform"))][0][0] == WORDS.index("sky")
    assert votes[(3, Weighting("uniform"))][1][0] == WORDS.index("dog")
    # top 10 of k = 1: only the nearest image's words, never a word nobody voted for
    one = neighbour_votes(queries, unit(CLUSTERS), labels, [1], ALL_WEIGHTINGS, top=10)
    assert all(len(rows[0]) == 2 for rows in one.values())


def test_similarity_weights_let_the_nearest_outvote_a_crowd():
    # two far images carry 'dog', one near image carries 'cat': counts say dog, exp(sim / 0.01) says cat
    train = unit([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0]])
    labels = label_matrix([np.array([0]), np.array([1]), np.array([1])], 2)
    query = unit([[1.0, 0.2]])
    votes = neighbour_votes(query, train, labels, [3], [Weighting("uniform"), Weighting("similarity", 0.01)], top=1)
    assert votes[(3, Weighting("uniform"))][0].tolist() == [1]
    assert votes[(3, Weighting("similarity", 0.01))][0].tolist() == [0]
    assert Weighting("rank", 0.1).weights(torch.tensor([[0.9, 0.8, 0.1]]))[0, 1] < 1e-4
    assert [Weighting("similarity", 0.5).label, Weighting("rank", 5).label] == ["exp(sim/0.5)", "exp(-rank/5)"]
    assert Weighting("uniform").label == "uniform"
    with pytest.raises(ValueError):
        Weighting("similarity")
    with pytest.raises(ValueError):
        Weighting("votes", 1.0)


def test_centring_on_the_training_mean_changes_the_neighbours_as_computed_by_hand():
    # beach around (3, 1), pets around (1, 1): the training mean is (2, 1). The query (2.2, 1.6)
    # is 17.6 degrees from beach and 9.0 from pets seen from the origin (raw cosine: pets), but
    # centred it is (0.2, 0.6), on beach's side of the mean (centred cosine 0.32 against -0.32).
    train = np.array([[3, 1.0], [3.1, 1.0], [2.9, 1.0], [1, 1.0], [1.1, 1.0], [0.9, 1.0]], dtype=np.float32)
    labels = label_matrix(CLUSTER_TAGS, len(WORDS))
    query = np.array([[2.2, 1.6]], dtype=np.float32)
    centred = FeatureScaling.fit(train, "center_l2")
    np.testing.assert_allclose(centred.mean, [2.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(centred.apply(train), axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(centred.apply(query)[0], np.array([0.2, 0.6]) / np.hypot(0.2, 0.6), atol=1e-6)
    raw = FeatureScaling.fit(train, "l2")
    for scaling, cluster in ((raw, PETS), (centred, BEACH)):
        votes = neighbour_votes(scaling.apply(query), scaling.apply(train), labels, [3], ALL_WEIGHTINGS, top=3)
        assert all(sorted(rows[0].tolist()) == cluster for rows in votes.values())


def test_uniform_votes_on_raw_features_are_the_project_knn_baseline():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 8)).astype(np.float32)
    tags = [rng.choice(len(WORDS), size=rng.integers(1, 4), replace=False) for _ in range(30)]
    train = ImageSplit("train", np.arange(30), np.arange(30), [[WORDS[t] for t in row] for row in tags],
                       np.concatenate([np.full(len(row), i) for i, row in enumerate(tags)]),
                       np.concatenate(tags))
    query = ImageSplit("valid", np.arange(30, 40), np.arange(30, 40), [[]] * 10, np.zeros(0, int), np.zeros(0, int))
    data = SimpleNamespace(raw_features=features, train=train, words=WORDS)
    vocabulary = Vocabulary(np.eye(len(WORDS), dtype=np.float32), WORDS)
    expected = neighbour_tags(data, query, vocabulary, [1, 5, 12], top=4)
    got = neighbour_votes(unit(features[30:]), unit(features[:30]), label_matrix(tags, len(WORDS)), [1, 5, 12],
                          [Weighting("uniform")], top=4)
    for k, rows in expected.items():
        assert [r.tolist() for r in got[(k, Weighting("uniform"))]] == [r.tolist() for r in rows]


def test_ranked_orders_by_score_then_tiebreak_then_index_and_drops_absent_words():
    scores = np.array([[0.0, 2.0, 1.0, 2.0, 1.0], [1.0, 1.0, 1.0, 0.0, 0.0]])
    tiebreak = np.array([[0.0, 0.1, 0.5, 0.3, 0.5], [0.0, 0.0, 0.0, 0.0, 0.0]])
    assert [r.tolist() for r in ranked(scores, 10, tiebreak)] == [[3, 1, 2, 4], [0, 1, 2]]
    assert [r.tolist() for r in ranked(scores, 2)] == [[1, 3], [0, 1]]
    present = np.ones_like(scores, dtype=bool)
    assert ranked(scores, 5, present=present)[1].tolist() == [0, 1, 2, 3, 4]


def separable(n, rng):
    """Two concepts, present where the first (second) coordinate is positive, far from the border."""
    x = rng.uniform(0.5, 2.0, size=(n, 2)) * rng.choice([-1, 1], size=(n, 2))
    return x.astype(np.float32), (x > 0).astype(np.float32)


def test_logistic_regression_reaches_the_l2_optimum():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3)).astype(np.float32)
    y = (x[:, :1] + 0.8 * rng.normal(size=(60, 1)) > 0).astype(np.float32)
    model = fit_logistic(x, y, c=0.5, tolerance=1e-7)
    # stationarity of C * sum(logloss) + |w|^2 / 2: w = C X^T (y - p), and sum(y - p) = 0 (free bias)
    residual = y[:, 0] - model.probabilities(x)[:, 0]
    np.testing.assert_allclose(model.weight[:, 0].numpy(), 0.5 * x.T @ residual, atol=1e-4)
    assert abs(residual.sum()) < 1e-3
    # a weaker penalty gives larger weights; the path reaches the same optimum as a fit from zero
    path = fit_path(x, y, [0.5, 0.01])
    assert [m.c for m in path] == [0.01, 0.5]
    assert path[0].weight.abs().sum() < path[1].weight.abs().sum()
    np.testing.assert_allclose(path[1].weight.numpy(), model.weight.numpy(), atol=1e-3)


def test_concept_classifier_on_separable_features_recovers_the_concepts():
    rng = np.random.default_rng(2)
    x, y = separable(200, rng)
    model = fit_logistic(x, y, c=10.0)
    x_new, y_new = separable(50, rng)
    assert ((model.probabilities(x_new) > 0.5) == (y_new > 0.5)).all()
    # concepts 'sky' (index 4) and 'dog' (1) and one without a word; 'sea' and 'sun' are frequent tags
    words = np.array([WORDS.index("sky"), WORDS.index("dog"), -1])
    prior = np.array([0.0, 0.3, 0.0, 0.5, 0.6, 0.4])
    probabilities = np.hstack([model.probabilities(x_new), np.full((50, 1), 0.99)])
    for threshold in (0.5, None):
        rows = ranked(concept_scores(probabilities, words, prior, threshold), 3)
        for row, truth in zip(rows, y_new):
            concepts = {w for w, present in zip((4, 1), truth) if present}
            assert set(row[:len(concepts)].tolist()) == concepts
            if threshold is not None:  # then frequent tags, never a concept word the classifier ruled out
                assert row[len(concepts):].tolist() == [3, 5][:3 - len(concepts)]


def test_concepts_only_limit_and_tag_classifiers_emit_known_lists():
    words = np.array([WORDS.index("sky"), WORDS.index("dog")])
    prior = np.array([0.1, 0.9, 0.0, 0.5, 0.8, 0.4])  # dog and sky frequent, but ruled on by the concepts
    truth = np.array([[1, 0], [0, 0], [1, 1]], dtype=np.float32)
    rows = ranked(concept_scores(truth, words, prior, 0.5), 3)
    assert [r.tolist() for r in rows] == [[4, 3, 5], [3, 5, 0], [1, 4, 3]]
    # by probability: a frequent tag can outrank an unlikely concept
    rows = ranked(concept_scores(np.array([[0.45, 0.6]]), words, prior, None), 3)
    assert rows[0].tolist() == [1, 3, 4]
    scores = classifier_scores(np.array([[0.2, 0.7]]), np.array([5, 2]), len(WORDS))
    assert ranked(scores, 10)[0].tolist() == [2, 5]


def test_report_helpers():
    vocabulary = Vocabulary(np.eye(len(WORDS), dtype=np.float32), WORDS)
    assert concept_words(["sky", "plant_life", "dog"], vocabulary).tolist() == [4, -1, 1]
    grid = [{"precision@10": 0.3}, {"precision@10": 0.4}, {"precision@10": 0.4}]
    assert choose(grid, 10) == 1
    scores = scores_with_error([["a"], ["a", "b", "c"]], [["a", "x"], ["a", "b", "c", "d"]], 10)
    assert scores["precision@10"] == pytest.approx(0.2)
    assert scores["precision@10_se"] == pytest.approx(0.1)  # sd of (0.1, 0.3) is 0.1414, over sqrt(2)
    assert scores["recall@10"] == pytest.approx(0.625)
    assert scores["recall@10_se"] == pytest.approx(0.125)
    methods = {"knn_protocol": {"test": {"per_image": np.array([0.1, 0.3, 0.2])}},
               "other": {"test": {"per_image": np.array([0.2, 0.4, 0.2])}}}
    paired_differences(methods, 10)
    assert methods["other"]["test"]["precision@10_minus_knn_protocol"] == pytest.approx(0.2 / 3)
    assert methods["other"]["test"]["precision@10_minus_knn_protocol_se"] == pytest.approx(np.sqrt(1 / 300) / np.sqrt(3))
    assert "per_image" not in methods["knn_protocol"]["test"]


def test_committed_report_is_the_rendering_of_its_json():
    folder = REPO_ROOT / DEFAULT_OUT
    if not (folder / "baselines.json").is_file():
        pytest.skip("no committed baselines.json")
    record = json.loads((folder / "baselines.json").read_text())
    assert render(record) == (folder / "baselines.md").read_text()
