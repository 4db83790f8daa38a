"""MNIST scoring classifier: shapes, scoring, a short real training run, the weight cache."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

import cgan.runs.files as files
from cgan.errors import UserFacingError
from tests.data_paths import real_root
from unimodal import classifier
from unimodal.classifier import (
    MnistClassifier,
    accuracy,
    conditional_accuracy,
    load_or_train_classifier,
    train_classifier,
)
from unimodal.mnist_data import load_mnist


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    """Real MNIST, decoded once for the module."""
    return load_mnist(
        data_root=real_root("mnist"),
        cache_dir=tmp_path_factory.mktemp("cache"),
        progress=False,
    )


class FirstPixelsModel(nn.Module):
    """Toy classifier: the predicted class is the argmax of the first 10 pixels."""

    def forward(self, x):
        return x[:, :10]


def test_logits_shape():
    out = MnistClassifier()(torch.rand(3, 784))
    assert out.shape == (3, 10)


def test_conditional_accuracy_counts_matches():
    samples = np.zeros((4, 784), dtype=np.float32)
    samples[np.arange(4), [2, 5, 7, 1]] = 1.0
    assert conditional_accuracy(FirstPixelsModel(), samples, np.array([2, 5, 0, 1])) == 0.75


def test_conditional_accuracy_accepts_one_hot_labels():
    samples = torch.zeros(2, 784)
    samples[0, 3] = samples[1, 9] = 1.0
    assert conditional_accuracy(FirstPixelsModel(), samples, torch.eye(10)[[3, 4]]) == 0.5


def test_accuracy_is_batch_invariant():
    x, y = torch.rand(25, 784), torch.randint(0, 10, (25,))
    model = MnistClassifier()
    assert accuracy(model, x, y, batch_size=4) == accuracy(model, x, y, batch_size=1000)


def test_training_is_deterministic(mnist):
    x, y = mnist.train_x[:256], mnist.train_y[:256]
    a = train_classifier(x, y, epochs=0.5, seed=3, progress=False)
    b = train_classifier(x, y, epochs=0.5, seed=3, progress=False)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_short_training_learns_real_digits(mnist):
    model = train_classifier(
        mnist.train_x[:2000], mnist.train_y[:2000], epochs=2, batch_size=64, progress=False
    )
    assert not model.training
    assert accuracy(model, mnist.test_x[:1000], mnist.test_y[:1000]) > 0.8


@pytest.fixture
def tiny_splits():
    """Stand-in splits; training and scoring are stubbed, so only the shapes matter."""
    x, y = np.zeros((2, 784), dtype=np.float32), np.zeros(2, dtype=np.int64)
    return SimpleNamespace(train_x=x, train_y=y, valid_x=x, valid_y=y, test_x=x, test_y=y)


def _cache_file(cache_dir):
    """Where load_or_train_classifier keeps the default classifier."""
    return cache_dir / classifier.CACHE_NAME.format(epochs=classifier.FULL_EPOCHS)


def _stub_training(monkeypatch, test_accuracy):
    """Make training instant and scoring return test_accuracy; return the trained model."""
    model = MnistClassifier().eval()
    monkeypatch.setattr(classifier, "train_classifier", lambda *a, **k: model)
    monkeypatch.setattr(classifier, "accuracy", lambda *a, **k: test_accuracy)
    return model


def test_cache_is_written_then_reused(monkeypatch, tmp_path, tiny_splits):
    trained = _stub_training(monkeypatch, 0.995)
    load_or_train_classifier(tiny_splits, tmp_path, progress=False)
    saved = torch.load(_cache_file(tmp_path), weights_only=True)
    assert saved["test_accuracy"] == 0.995
    assert list(tmp_path.iterdir()) == [_cache_file(tmp_path)]

    monkeypatch.setattr(classifier, "train_classifier", pytest.fail)
    loaded = load_or_train_classifier(tiny_splits, tmp_path, progress=False)
    assert not loaded.training
    for pa, pb in zip(trained.parameters(), loaded.parameters(), strict=True):
        assert torch.equal(pa, pb)


def test_corrupt_cache_is_retrained(monkeypatch, tmp_path, tiny_splits):
    _cache_file(tmp_path).write_bytes(b"not a checkpoint")
    trained = _stub_training(monkeypatch, 0.995)
    with pytest.warns(UserWarning, match="unusable classifier cache"):
        model = load_or_train_classifier(tiny_splits, tmp_path, progress=False)
    assert model is trained


def test_weak_classifier_is_refused_and_not_cached(monkeypatch, tmp_path, tiny_splits):
    _stub_training(monkeypatch, 0.98)
    with pytest.raises(UserFacingError, match="0.98"):
        load_or_train_classifier(tiny_splits, tmp_path, progress=False)
    assert not _cache_file(tmp_path).exists()


def test_a_read_only_cache_is_refused_before_training(monkeypatch, tmp_path, tiny_splits):
    def no_training(*args, **kwargs):
        raise AssertionError("trained although the result could not be kept")

    monkeypatch.setattr(classifier, "train_classifier", no_training)

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.tempfile, "TemporaryFile", read_only)
    with pytest.raises(UserFacingError, match="cannot write the scoring classifier"):
        load_or_train_classifier(tiny_splits, tmp_path, progress=False)
