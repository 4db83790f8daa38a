"""A small MNIST CNN that scores conditional samples.

The Parzen number is blind to whether G(z|y) draws the digit y asked for; the
fraction of samples this classifier assigns to their conditioning class is not.
"""

import pickle
import warnings
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from cgan.errors import UserFacingError
from cgan.runs.files import atomic_write, check_writable

CACHE_NAME = "mnist_classifier_{epochs:g}ep.pt"
FULL_EPOCHS = 5  # 3 epochs gave 98.5% (constant lr) and 99.07% (decayed): too close to 99%
MIN_TEST_ACCURACY = 0.99


class MnistClassifier(nn.Module):
    """conv5x5(32) -> pool -> conv5x5(64) -> pool -> fc 256 -> 10, ReLU.

    Takes flat (N, 784) pixels in [0, 1], the format the generator emits.
    """

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),  # -> 32 x 12 x 12
            nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2),  # -> 64 x 4 x 4
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 256), nn.ReLU(),
            nn.Linear(256, 10),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 10)."""
        return self.net(x)


def _as_pixels(x) -> torch.Tensor:
    """Float32 tensor view of numpy or torch pixels."""
    return torch.as_tensor(x, dtype=torch.float32)


def _as_labels(y) -> torch.Tensor:
    """Int64 class indices; one-hot rows (the generator's y) become their argmax."""
    y = torch.as_tensor(y)
    if y.ndim == 2:
        y = y.argmax(dim=1)
    return y.to(torch.int64)


def _batch_indices(n: int, batch_size: int, steps: int, generator: torch.Generator):
    """Yield steps index tensors, reshuffling the n examples at each epoch."""
    while steps > 0:
        batches = torch.randperm(n, generator=generator).split(batch_size)[:steps]
        yield from batches
        steps -= len(batches)


def train_classifier(
    train_x, train_y, epochs=FULL_EPOCHS, batch_size=128, seed=0, progress=True
) -> MnistClassifier:
    """Adam on cross-entropy; same seed and data give the same weights.

    The learning rate falls linearly from 1e-3 to 0, so training does not end on
    a noisy step (with a constant rate test accuracy swings by ~0.4%).
    epochs may be fractional (e.g. 0.25) for quick tests.
    """
    x, y = _as_pixels(train_x), _as_labels(train_y)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MnistClassifier()
    generator = torch.Generator().manual_seed(seed)
    steps = round(epochs * -(-x.shape[0] // batch_size))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / max(steps, 1))
    loss_fn = nn.CrossEntropyLoss()
    bar = tqdm(_batch_indices(x.shape[0], batch_size, steps, generator),
               total=steps, desc="classifier", disable=not progress)  # fmt: skip
    model.train()
    for idx in bar:
        optimizer.zero_grad()
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        optimizer.step()
        schedule.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    return model.eval()


@torch.no_grad()
def predict(model: nn.Module, x, batch_size=1000) -> torch.Tensor:
    """Predicted class of each row (on the CPU), batched so memory stays bounded.

    Rows are moved to the model's device, so a model on a GPU scores CPU arrays.
    """
    device = next(model.parameters(), torch.empty(0)).device
    was_training = model.training
    model.eval()
    chunks = _as_pixels(x).split(batch_size)
    preds = [model(chunk.to(device)).argmax(dim=1).cpu() for chunk in chunks]
    model.train(was_training)
    return torch.cat(preds)


@torch.no_grad()
def penultimate_features(model: MnistClassifier, x, batch_size=1000) -> torch.Tensor:
    """The 256 ReLU outputs before the last layer (on the CPU): the space of the Frechet distance."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    body = model.net[:-1]
    features = [body(chunk.to(device)).cpu() for chunk in _as_pixels(x).split(batch_size)]
    model.train(was_training)
    return torch.cat(features)


def accuracy(model: nn.Module, x, y, batch_size=1000) -> float:
    """Fraction of rows whose predicted class equals the label (int or one-hot)."""
    return float((predict(model, x, batch_size) == _as_labels(y)).double().mean())


def conditional_accuracy(model: nn.Module, samples, labels) -> float:
    """Fraction of generated samples classified as the digit they were conditioned on."""
    return accuracy(model, samples, labels)


def _load_cached(path: Path) -> MnistClassifier | None:
    """The cached classifier, or None if the file is missing or unusable."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model = MnistClassifier()
        model.load_state_dict(state["state_dict"])
    except (OSError, EOFError, RuntimeError, KeyError, TypeError, pickle.UnpicklingError) as err:
        # a corrupt or stale cache (e.g. other architecture) is rebuilt, never fatal
        warnings.warn(f"ignoring unusable classifier cache {path}: {err}", stacklevel=3)
        return None
    return model.eval()


def _save(model: nn.Module, test_accuracy: float, path: Path) -> None:
    """Weights plus the test accuracy they reached, written atomically (temp file + rename)."""
    state = {"state_dict": model.state_dict(), "test_accuracy": test_accuracy}
    atomic_write(path, lambda handle: torch.save(state, handle))


def load_or_train_classifier(splits, cache_dir, progress=True, epochs=FULL_EPOCHS,
                             min_accuracy=MIN_TEST_ACCURACY) -> MnistClassifier:
    """The scoring classifier from <cache_dir>/mnist_classifier_<epochs>ep.pt, trained if absent.

    A fresh one is trained on splits.train_x for epochs epochs and must reach
    min_accuracy on splits.test_x before it is cached.
    """
    path = Path(cache_dir) / CACHE_NAME.format(epochs=epochs)
    model = _load_cached(path)
    if model is not None:
        return model
    check_writable(path.parent, "the scoring classifier")  # before training it, not after
    model = train_classifier(splits.train_x, splits.train_y, epochs=epochs, progress=progress)
    test_accuracy = accuracy(model, splits.test_x, splits.test_y)
    if test_accuracy < min_accuracy:
        raise UserFacingError(
            f"the MNIST scoring classifier reached only {test_accuracy:.4f} test accuracy "
            f"(need {min_accuracy}); not caching it (eval.classifier_epochs sets its training length)"
        )
    _save(model, test_accuracy, path)
    return model
