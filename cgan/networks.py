"""Layers of the paper's networks: maxout, dropout with a fast resumable mask source, and
the two-tower MLP that every generator and discriminator in the paper is built from."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cgan.errors import ConfigError

LayerFn = Callable[[nn.Module, torch.Tensor], torch.Tensor]


class Maxout(nn.Module):
    """Maxout (Goodfellow et al. 2013): ``units`` outputs, each the max of ``pieces`` linear maps.

    Pieces of one unit are adjacent columns of the linear map, as in Pylearn2's Maxout with
    pool_stride == num_pieces.
    """

    def __init__(self, in_features: int, units: int, pieces: int):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.linear(x))

    def pool(self, z: torch.Tensor) -> torch.Tensor:
        """The max over each unit's pieces of the linear map's output ``z`` (any leading dims)."""
        z = z.view(*z.shape[:-1], self.units, self.pieces)
        # max() with indices has a cheap scatter backward; amax's backward is ~50x slower on CPU.
        return z.max(dim=-1).values


@dataclass(frozen=True)
class LayerSpec:
    """One layer written as text in a config: 'relu 1200', 'maxout 240x5', 'linear 200', 'sigmoid 784'."""

    kind: str
    units: int
    pieces: int = 1

    @classmethod
    def parse(cls, text: str) -> LayerSpec:
        match = re.fullmatch(r"\s*(relu|linear|sigmoid)\s+(\d+)\s*|\s*maxout\s+(\d+)\s*x\s*(\d+)\s*", text)
        if not match:
            raise ConfigError(
                f"layer {text!r} must look like 'relu 1200', 'maxout 240x5', 'linear 200' or 'sigmoid 784'"
            )
        if match.group(1):
            spec = cls(match.group(1), int(match.group(2)))
        else:
            spec = cls("maxout", int(match.group(3)), int(match.group(4)))
        if spec.units < 1 or spec.pieces < 1:
            raise ConfigError(f"layer {text!r}: sizes must be positive")
        return spec

    def build(self, in_features: int) -> nn.Module:
        """The layer as a module; 'sigmoid' and 'linear' return pre-activations (see TowerNet)."""
        if self.kind == "maxout":
            return Maxout(in_features, self.units, self.pieces)
        linear = nn.Linear(in_features, self.units)
        return nn.Sequential(linear, nn.ReLU()) if self.kind == "relu" else linear


class DropoutMasks:
    """Bernoulli dropout masks from a NumPy generator (on the CPU) or a torch generator on the
    device (on a GPU), whose state goes into checkpoints so that a resumed run draws the same masks.

    Why NumPy on the CPU: there ``bernoulli_`` costs more than the matmuls it sits between, and
    PCG64's bits are ~50x cheaper. Why the device's generator on a GPU: masks drawn on the host
    would be copied to the device at every layer. The two draw different masks for one seed, so
    a run resumes with the kind its checkpoint holds, whatever the device it resumes on.
    """

    def __init__(self, seed: int, device: str | torch.device = "cpu", on_device: bool | None = None):
        """``on_device``: draw with torch's generator on ``device`` (default: when it is not the CPU)."""
        self.device = torch.device(device)
        self.generator: torch.Generator | None = None
        self.rng = np.random.default_rng(seed)
        if self.device.type != "cpu" if on_device is None else on_device:
            self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def mask(self, shape: tuple[int, ...], keep: float, scaled: bool = True) -> torch.Tensor:
        """A float mask with entries 0 or 1/keep (inverted dropout, as Pylearn2's input_scale =
        1/keep), or 0 or 1 when not ``scaled`` (Pylearn2's input_scale = 1)."""
        if self.generator is not None:
            kept = (torch.rand(shape, generator=self.generator, device=self.generator.device) < keep).float()
            return kept.mul_(1.0 / keep) if scaled else kept
        count = int(np.prod(shape))
        if keep == 0.5:
            bits = np.unpackbits(np.frombuffer(self.rng.bytes((count + 7) // 8), dtype=np.uint8))
            kept = bits[:count].astype(np.float32)
        else:
            kept = (self.rng.random(count, dtype=np.float32) < keep).astype(np.float32)
        mask = torch.from_numpy(kept.reshape(shape))
        return mask.mul_(1.0 / keep) if scaled else mask

    def apply(self, x: torch.Tensor, keep: float, scaled: bool = True) -> torch.Tensor:
        if keep >= 1.0:
            return x
        return x * self.mask(tuple(x.shape), keep, scaled).to(x.device, non_blocking=True)

    def state(self) -> dict:
        if self.generator is not None:
            return {"torch_generator": self.generator.get_state(), "device": self.device.type}
        return self.rng.bit_generator.state

    def load_state(self, state: dict) -> None:
        if "torch_generator" in state:
            device = self.device if self.device.type == state["device"] else torch.device(state["device"])
            self.generator = torch.Generator(device=device)
            self.generator.set_state(state["torch_generator"])
        else:
            self.generator = None
            self.rng.bit_generator.state = state


class TwinMasks:
    """Dropout for a batch whose second half repeats the first half's rows with other noise (the
    diversity term's z2): one mask from ``source`` for the first half, the same mask for the
    second, so that the two halves differ only through z (rows are the second-to-last axis)."""

    def __init__(self, source):
        self.source = source

    def apply(self, x: torch.Tensor, keep: float, scaled: bool = True) -> torch.Tensor:
        if keep >= 1.0:
            return x
        half = (*x.shape[:-2], x.shape[-2] // 2, x.shape[-1])
        mask = self.source.mask(half, keep, scaled).to(x.device, non_blocking=True)
        return x * torch.cat([mask, mask], dim=-2)


class TowerNet(nn.Module):
    """main -> tower, condition -> tower, concatenated -> joint layers -> output layer.

    Every network in the paper has this shape: the MNIST and Flickr generators (main = noise,
    condition = label or image features) and discriminators (main = data, condition = the same
    y). With ``condition_dim = 0`` it is a plain MLP (Goodfellow's unconditional GAN).

    Dropout follows Pylearn2's placement, on each layer's input: ``input_keep`` on the main
    input to its first layer, ``hidden_keep`` on the input of every later layer (the joint
    layers and the output layer). The condition input itself is never dropped.
    Kept units are scaled by 1/keep in training (``dropout_scaled``, Pylearn2's default for D);
    unscaled masks (0 or 1) are what the GAN code's generator_default_input_scale = 1 gave.
    The output layer returns pre-activations (logits for 'sigmoid'); ``output_activation``
    applies the nonlinearity, so that losses can use the stable logit form.
    """

    def __init__(
        self,
        main_dim: int,
        condition_dim: int,
        main_layers: list[str],
        condition_layers: list[str],
        joint_layers: list[str],
        output_layer: str,
        input_keep: float = 1.0,
        hidden_keep: float = 1.0,
        dropout_scaled: bool = True,
        projection: bool = False,
        auxiliary_classes: int = 0,
    ):
        super().__init__()
        self.input_keep, self.hidden_keep, self.dropout_scaled = input_keep, hidden_keep, dropout_scaled
        self.main_tower, main_out = _stack(main_dim, main_layers)
        self.condition_tower, cond_out = _stack(condition_dim, condition_layers)
        self.joint, joint_out = _stack(main_out + cond_out, joint_layers)
        out = LayerSpec.parse(output_layer)
        if out.kind not in ("sigmoid", "linear"):
            raise ConfigError(f"output layer {output_layer!r} must be 'sigmoid N' or 'linear N'")
        self.output_kind = out.kind
        self.output = out.build(joint_out)
        self.out_features = out.units
        # Beyond the paper: a projection discriminator's term (Miyato & Koyama 2018), the inner
        # product of the main input's features with a linear map of the condition's.
        self.projection = nn.Linear(cond_out, main_out) if projection else None
        # Beyond the paper: an auxiliary classifier head (AC-GAN, Odena et al. 2017) on the main
        # input's features alone: fed the condition too, it could name the classes without the input.
        self.auxiliary = nn.Linear(main_out, auxiliary_classes) if auxiliary_classes else None
        self.dropout: DropoutMasks | None = None

    def forward(self, main: torch.Tensor, condition: torch.Tensor | None = None,
                encoded_condition: torch.Tensor | None = None) -> torch.Tensor:
        """Pre-activation output; dropout only in training mode with a mask source attached.
        ``encoded_condition``, instead of ``condition``, is the condition tower's output
        (``encode_condition``), for callers that repeat one condition over many rows."""
        return self.run(main, condition, encoded_condition, self.active_masks())

    def active_masks(self) -> DropoutMasks | None:
        """The mask source dropout draws from now: the attached one in training mode, else none."""
        return self.dropout if self.training else None

    def run(self, main: torch.Tensor, condition: torch.Tensor | None, encoded_condition: torch.Tensor | None,
            drop, apply: LayerFn | None = None) -> torch.Tensor:
        """``forward`` with an explicit mask source (``drop``: anything with ``apply(x, keep,
        scaled)``, or None) and layer function (``apply(layer, x)``; default: the layer's own
        weights). cgan.stacked passes both to run several same-shaped networks as one."""
        apply = apply or _call
        scaled = self.dropout_scaled
        main_features = h = _run(self.main_tower, main, drop, self.input_keep, self.hidden_keep, scaled, apply)
        if condition is not None:
            encoded_condition = _run(self.condition_tower, condition, drop, 1.0, self.hidden_keep, scaled, apply)
        if encoded_condition is not None:
            h = torch.cat([h, encoded_condition], dim=-1)
        h = _run(self.joint, h, drop, self.hidden_keep, self.hidden_keep, scaled, apply)
        if drop is not None:
            h = drop.apply(h, self.hidden_keep, scaled)
        out = apply(self.output, h)
        if self.projection is not None and encoded_condition is not None:  # + <phi(x), V psi(y)>
            out = out + (main_features * apply(self.projection, encoded_condition)).sum(-1, keepdim=True)
        return out

    def classify(self, main: torch.Tensor, drop, apply: LayerFn | None = None) -> torch.Tensor:
        """The auxiliary head's class logits of the main input (no condition), with ``drop`` and
        ``apply`` as in ``run``: dropout on the head's input as on every later layer's."""
        apply = apply or _call
        h = _run(self.main_tower, main, drop, self.input_keep, self.hidden_keep, self.dropout_scaled, apply)
        if drop is not None:
            h = drop.apply(h, self.hidden_keep, self.dropout_scaled)
        return apply(self.auxiliary, h)

    @property
    def condition_dropout_free(self) -> bool:
        """Whether no dropout mask ever falls inside the condition tower (its input is never
        dropped, so a one-layer tower qualifies): then ``encode_condition`` is exactly what
        ``forward`` computes from a condition, also in training."""
        return len(self.condition_tower) <= 1 or self.hidden_keep >= 1.0

    def encode_condition(self, condition: torch.Tensor, apply: LayerFn | None = None) -> torch.Tensor:
        """The condition tower's output without dropout: what ``forward`` computes from a
        condition when no mask falls on it (a one-layer tower never drops its input)."""
        return _run(self.condition_tower, condition, None, 1.0, self.hidden_keep, self.dropout_scaled,
                    apply or _call)

    def output_activation(self, pre: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(pre) if self.output_kind == "sigmoid" else pre

    def sample(self, main: torch.Tensor, condition: torch.Tensor | None = None,
               encoded_condition: torch.Tensor | None = None) -> torch.Tensor:
        """Forward pass with the output nonlinearity applied (e.g. pixel intensities)."""
        return self.output_activation(self(main, condition, encoded_condition))


def _stack(in_features: int, layers: list[str]) -> tuple[nn.ModuleList, int]:
    modules = nn.ModuleList()
    for text in layers:
        spec = LayerSpec.parse(text)
        if spec.kind not in ("relu", "maxout"):
            raise ConfigError(f"hidden layer {text!r} must be 'relu N' or 'maxout UxK'")
        modules.append(spec.build(in_features))
        in_features = spec.units
    return modules, in_features


def _call(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return layer(x)


def _run(layers: nn.ModuleList, x: torch.Tensor, drop: DropoutMasks | None,
         first_keep: float, later_keep: float, scaled: bool, apply: LayerFn) -> torch.Tensor:
    for i, layer in enumerate(layers):
        if drop is not None:
            x = drop.apply(x, first_keep if i == 0 else later_keep, scaled)
        x = apply(layer, x)
    return x


def init_uniform_(module: nn.Module, irange: float) -> None:
    """Pylearn2 'irange' initialisation: weights uniform in [-irange, irange], biases zero."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.uniform_(sub.weight, -irange, irange)
            nn.init.zeros_(sub.bias)
