"""The tagging experiment's data (split by image, pairs, vocabulary filtering), the download of
the official archives, sampling with the image tower run once per image, and the regressor."""

import shutil
import zipfile

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors

from cgan.errors import DataError
from cgan.noise import sample_noise
from cgan.run_settings import NetworkSettings
from cgan.training import ShuffledBatches, TrainSettings
from features.mirflickr import MirFlickr
from features.store import StoredFeatures
from features.tokens import tag_tokens
from multimodal import download
from multimodal.baselines import RegressorTrainer
from multimodal.data import load_tag_data
from multimodal.sampling import Sampling, iter_samples
from multimodal.settings import DataSettings
from tests.test_multimodal_pipeline import make_tiny_flickr

pytestmark = pytest.mark.usefixtures("one_thread")

WORDS = ["sea", "sand", "beach", "waves", "summer", "tree", "forest", "green", "nature", "leaves",
         "street", "city", "building", "urban", "night", "structures"]  # not: unseenword


@pytest.fixture
def tiny(tmp_path):
    images = make_tiny_flickr(tmp_path / "data")
    dataset = MirFlickr.at(tmp_path / "data")
    numbers = sorted(images)
    stored = StoredFeatures(np.random.default_rng(0).normal(size=(len(numbers), 6)).astype(np.float32),
                            [f"im{n}.jpg" for n in numbers], {"backbone": "test"})
    vectors = KeyedVectors(vector_size=4)
    vectors.add_vectors(WORDS, np.random.default_rng(1).normal(size=(len(WORDS), 4)).astype(np.float32))
    return images, dataset, stored, vectors


def test_split_is_by_image_and_pairs_match_the_tags(tiny):
    images, dataset, stored, vectors = tiny
    data = load_tag_data(dataset, stored, vectors, DataSettings(valid_images=4))
    sides = [set(s.numbers.tolist()) for s in data.splits.values()]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert max(sides[0] | sides[1]) <= 15000 < min(sides[2])
    assert sorted(sides[1]) == [18, 19, 20, 21]  # the last training images by number validate
    assert 4 not in set.union(*sides) and data.stats["left_out_untagged"] == 1  # untagged: left out
    for split in data.splits.values():
        in_vocab = [[t for t in tags if t in vectors.key_to_index] for tags in split.tags]
        assert len(split.pair_image) == sum(map(len, in_vocab))  # once per tag with a vector
        for i, tags in enumerate(in_vocab):
            assert [data.words[w] for w in split.pair_word[split.pair_image == i]] == tags
        for number, tags in zip(split.numbers, split.tags):  # annotations count as tags, no repeats
            user = tag_tokens(images[number][1])
            assert tags == list(dict.fromkeys(user + tag_tokens(dataset.concepts(number))))
            assert stored.ids[split.rows[list(split.numbers).index(number)]] == f"im{number}.jpg"
    oov = data.stats["out_of_vocabulary"]
    assert oov["test"]["dropped"] == 1 and oov["train"]["dropped"] == 0
    assert data.stats["splits"]["train"]["pairs"] == len(data.train.pair_image)
    assert np.allclose(np.linalg.norm(data.word_vectors, axis=1), 1, atol=1e-6)
    assert np.allclose(np.linalg.norm(data.features, axis=1), 1, atol=1e-6)  # default: centred, unit length
    centred = stored.features - stored.features[data.train.rows].mean(axis=0)
    np.testing.assert_allclose(data.features, centred / np.linalg.norm(centred, axis=1, keepdims=True), atol=1e-6)
    standardised = load_tag_data(dataset, stored, vectors, DataSettings(valid_images=4, feature_scaling="standardize"))
    assert np.allclose(standardised.features[data.train.rows].mean(axis=0), 0, atol=1e-5)
    assert np.allclose(standardised.features[data.train.rows].std(axis=0), 1, atol=1e-4)


def test_each_split_holds_its_images_concepts_and_batches_carry_them_for_the_auxiliary_term(tiny):
    from types import SimpleNamespace

    from multimodal.train import make_batches

    _, dataset, stored, vectors = tiny
    data = load_tag_data(dataset, stored, vectors, DataSettings(valid_images=4))
    assert data.concept_names == sorted({c for names in dataset.annotations.values() for c in names})  # by hand
    assert len(data.concept_names) >= 2
    for split in data.splits.values():
        for number, row in zip(split.numbers, split.concepts):
            assert [data.concept_names[i] for i in np.flatnonzero(row)] == dataset.concepts(int(number))
    cfg = SimpleNamespace(objective=SimpleNamespace(auxiliary_weight=1.0), train=SimpleNamespace(batch_size=5), seed=0)
    _, features, concepts = next(make_batches(SimpleNamespace(data=data, cfg=cfg)).epoch(1))
    assert concepts.shape == (5, len(data.concept_names))
    for feature, labels in zip(features, concepts):  # each pair's image's concepts
        image = int(np.flatnonzero((data.features[data.train.rows] == feature.numpy()).all(axis=1))[0])
        assert np.array_equal(labels.numpy(), data.train.concepts[image])
    cfg.objective.auxiliary_weight = 0.0
    assert len(next(make_batches(SimpleNamespace(data=data, cfg=cfg)).epoch(1))) == 2
    without = load_tag_data(dataset, stored, vectors, DataSettings(valid_images=4, include_annotations=False))
    assert without.concept_names == [] and without.train.concepts is None


def test_pair_limit_and_identity(tiny):
    _, dataset, stored, vectors = tiny
    full = load_tag_data(dataset, stored, vectors, DataSettings(valid_images=4))
    cut = load_tag_data(dataset, stored, vectors, DataSettings(valid_images=4, max_train_pairs=10))
    assert len(cut.train.pair_image) == 10 and cut.train.pairs_before_limit == len(full.train.pair_image)
    assert (cut.train.pair_word == full.train.pair_word[:10]).all()  # the first pairs, as the paper
    assert cut.identity() != full.identity()
    assert full.identity() == load_tag_data(dataset, stored, vectors, DataSettings(valid_images=4)).identity()


def test_missing_mirflickr_is_downloaded_from_the_official_archives(tmp_path, monkeypatch):
    """The archives' layouts: mirflickr/... in the images zip, loose .txt files in the other."""
    make_tiny_flickr(tmp_path / "official")
    source = tmp_path / "official" / "mirflickr25k"
    served = tmp_path / "served"
    served.mkdir()
    with zipfile.ZipFile(served / download.IMAGES_ZIP, "w") as zipped:
        for path in sorted((source / "mirflickr").rglob("*")):
            zipped.write(path, path.relative_to(source))
    with zipfile.ZipFile(served / download.ANNOTATIONS_ZIP, "w") as zipped:
        for path in sorted((source / "annotations").iterdir()):
            zipped.write(path, path.name)
        zipped.writestr("README.txt", "concept annotations\n")
    fetched = []

    def fake_fetch(url, target, progress):
        fetched.append(url)
        shutil.copy(served / url.rsplit("/", 1)[1], target)

    monkeypatch.setattr(download, "fetch", fake_fetch)
    (tmp_path / "empty").mkdir()  # a data root that exists but holds no MIR Flickr
    found = download.locate_mirflickr(tmp_path / "empty", tmp_path / "cache", progress=False)
    assert fetched == [download.SITE + download.IMAGES_ZIP, download.SITE + download.ANNOTATIONS_ZIP]
    original = MirFlickr(source)
    assert found.root == tmp_path / "cache" / "mirflickr25k"
    assert found.image_numbers == original.image_numbers and found.annotations == original.annotations
    assert all(found.tags(n) == original.tags(n) for n in original.image_numbers)
    assert download.locate_mirflickr(tmp_path / "empty", tmp_path / "cache").root == found.root
    assert len(fetched) == 2  # the second time, the cached copy
    assert download.locate_mirflickr(tmp_path / "official", tmp_path / "cache").root == source


def test_a_mistyped_data_root_is_refused_before_a_mirflickr_download(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "download_mirflickr", lambda *args: pytest.fail("downloaded"))
    with pytest.raises(DataError, match="does not exist"):
        download.locate_mirflickr(tmp_path / "mirflikr", tmp_path / "cache", progress=False)


G = NetworkSettings(main_layers=["relu 8"], condition_layers=["relu 12"], joint_layers=[],
                    output_layer="linear 5", init_range=0.3, hidden_keep=0.5)


def test_sampling_runs_the_image_tower_once_per_image_exactly():
    torch.manual_seed(0)
    net = G.build(3, 6)
    features = torch.randn(7, 6)
    how = Sampling(count=4, noise="gaussian", noise_dim=3, dropout=False)
    batches = list(iter_samples(net, features, how, seed=11, batch_images=7))
    z = sample_noise("gaussian", 28, 3, torch.Generator().manual_seed(11))
    net.eval()
    expected = net.sample(z, features.repeat_interleave(4, dim=0)).view(7, 4, 5)
    torch.testing.assert_close(batches[0], expected.detach())
    assert len(list(net.condition_tower)) == 1 and net.dropout is None  # the network is left as it was
    with_dropout = torch.cat(list(iter_samples(net, features, Sampling(4, "gaussian", 3, True), 11, 3)))
    assert with_dropout.shape == (7, 4, 5) and not torch.allclose(with_dropout, expected)
    zero = next(iter_samples(net, features, Sampling(1, None, 3, False), 0, 7))
    torch.testing.assert_close(zero[:, 0], net.sample(torch.zeros(7, 3), features).detach())


def test_regressor_learns_to_point_at_the_target(tmp_path):
    torch.manual_seed(0)
    features = torch.randn(64, 6)
    target = torch.nn.functional.normalize(features[:, :5] + 0.1, dim=1)
    batches = ShuffledBatches(64, lambda i: (target[i], features[i]), batch_size=16, seed=1)
    settings = TrainSettings(max_epochs=15)
    trainer = RegressorTrainer(G.build(3, 6), batches=batches, settings=settings, run_dir=tmp_path, seed=2,
                               loss="cosine", noise_dim=3, progress=False)
    trainer.fit()
    losses = [r["g_loss"] for r in trainer.history]
    assert losses[-1] < 0.5 * losses[0] and trainer.updates == 60
    assert (tmp_path / "last.pt").is_file()


def test_vector_length_scales_features_and_word_vectors_but_not_their_directions():
    from multimodal.data import FeatureScaling

    rng = np.random.default_rng(0)
    raw = rng.random((6, 5)).astype(np.float32)
    unit = FeatureScaling.fit(raw[:4], "center_l2").apply(raw)
    long = FeatureScaling.fit(raw[:4], "center_l2", length=3.0).apply(raw)
    np.testing.assert_allclose(np.linalg.norm(long, axis=1), 3.0, rtol=1e-5)
    np.testing.assert_allclose(long / 3.0, unit, rtol=1e-5, atol=1e-7)


def test_word_vectors_are_identified_by_their_words_and_values_not_the_file_bytes(tmp_path):
    from gensim.models import KeyedVectors

    from multimodal.encoders import word_vectors_digest

    def vectors(values, note):
        kv = KeyedVectors(2)
        kv.add_vectors(["sea", "sky"], np.array(values, dtype=np.float32))
        kv.add_lifecycle_event("trained", note=note)  # gensim logs a time stamp in every save
        kv.save(str(tmp_path / f"{note}.kv"))
        return KeyedVectors.load(str(tmp_path / f"{note}.kv"))

    first, again = vectors([[1, 0], [0, 1]], "first"), vectors([[1, 0], [0, 1]], "again")
    assert (tmp_path / "first.kv").read_bytes() != (tmp_path / "again.kv").read_bytes()
    assert word_vectors_digest(first) == word_vectors_digest(again)
    assert word_vectors_digest(vectors([[1, 0], [0, 0.5]], "other")) != word_vectors_digest(first)


def test_neighbour_tag_centroids_average_the_nearest_training_images_tags_never_the_own():
    from multimodal.data import ImageSplit, neighbour_tag_centroids

    words = np.eye(3, dtype=np.float32)  # three orthogonal tag vectors
    features = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [0.95, 0.05]], dtype=np.float32)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    # training images: rows 0-3; image 0 tagged word 0, image 1 words 0 and 1, images 2 and 3 word 2
    train = ImageSplit("train", np.arange(4), np.arange(4), [[]] * 4,
                       pair_image=np.array([0, 1, 1, 2, 3]), pair_word=np.array([0, 0, 1, 2, 2]))
    centroids = neighbour_tag_centroids(features, train, words, k=1)
    assert np.allclose(centroids[0], unit(np.array([1, 1, 0])))  # image 0's nearest other is image 1
    assert np.allclose(centroids[1], [1, 0, 0])  # image 1's nearest other is image 0, never itself
    assert np.allclose(centroids[2], [0, 0, 1]) and np.allclose(centroids[3], [0, 0, 1])
    assert np.allclose(centroids[4], [1, 0, 0])  # a test row may take any training image
    two = neighbour_tag_centroids(features, train, words, k=2)
    assert np.allclose(two[4], unit(unit(np.array([1, 0, 0])) + unit(np.array([1, 1, 0]))))


def unit(x):
    return x / np.linalg.norm(x)
