"""The adversarial trainer: the shared training loop (cgan.training) with the objective's update
(cgan.objective), for one generator and its discriminator (none when the objective has no
adversarial term).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from cgan import objective as objective_  # the module; ``objective`` names its settings here
from cgan.networks import TowerNet, TwinMasks
from cgan.noise import sample_noise
from cgan.objective import ObjectiveSettings
from cgan.training import ShuffledBatches, Trainer, TrainSettings


class AdversarialTrainer(Trainer):
    """One simultaneous step of D and G per minibatch (AdversaryCost2), SGD on the shared loop."""

    def __init__(self, generator: TowerNet, discriminator: TowerNet | None, batches: ShuffledBatches,
                 settings: TrainSettings, objective: ObjectiveSettings, run_dir: str | Path, seed: int, **kwargs):
        # D's parameters first: the optimizer's order, kept from the first runs so they resume.
        networks = {"discriminator": discriminator, "generator": generator} if discriminator is not None \
            else {"generator": generator}
        super().__init__(networks, batches, settings, run_dir, seed, **kwargs)
        self.generator, self.discriminator, self.objective = generator, discriminator, objective
        self.g_params = list(generator.parameters())
        self.d_params = list(discriminator.parameters()) if discriminator is not None else []
        self.noise_rng = torch.Generator(device=self.device).manual_seed(seed)
        self.STATS = objective.stats()

    def update(self, data: torch.Tensor, condition: torch.Tensor | None, lr: float, momentum: float,
               labels: torch.Tensor | None = None) -> torch.Tensor:
        """The objective's step on one minibatch; returns its statistics (objective.stats())."""
        z = sample_noise(self.objective.noise, self.objective.noise_rows(data.shape[0]), self.objective.noise_dim,
                         self.noise_rng)
        judge = self.judge if self.discriminator is not None else None
        return objective_.step(self.objective, self.generate, judge, data, condition, z.to(self.device),
                               self.d_params, self.g_params, self.optimizer, lr, momentum, self.updates,
                               self.classify, labels)

    def generate(self, z: torch.Tensor, condition: torch.Tensor | None, twins: bool = False) -> torch.Tensor:
        """G's samples (pixel intensities); ``twins``: the second half of the rows repeats the
        first half's dropout masks (TwinMasks), for the diversity term with shared masks."""
        g = self.generator
        if not twins:
            return g.sample(z, condition)
        masks = g.active_masks()
        drop = None if masks is None else TwinMasks(masks)
        return g.output_activation(g.run(z, condition, None, drop))

    def judge(self, data: torch.Tensor, condition: torch.Tensor | None, rows: torch.Tensor) -> torch.Tensor:
        """D's logits for ``data`` paired with the conditions ``condition[rows]``. The condition
        tower runs once per minibatch row rather than once per judged row (real, fake and
        mismatched rows share conditions) when no dropout falls inside it: the same math, up to
        float rounding, for a third to a half less of that tower's work."""
        d = self.discriminator
        return judge_pairs(d, d.encode_condition, d.condition_dropout_free, data, condition, rows)

    def classify(self, data: torch.Tensor) -> torch.Tensor:
        """D's auxiliary head's class logits of ``data`` (the objective's auxiliary term)."""
        return self.discriminator.classify(data, self.discriminator.active_masks())

    def rng_state(self) -> dict[str, Any]:
        return {"noise_rng": self.noise_rng.get_state(), "noise_rng_device": self.noise_rng.device.type}

    def load_rng_state(self, state: dict[str, Any]) -> None:
        """The noise stream as saved; on the device it was saved from (a CPU run resumed on a GPU
        keeps drawing its noise on the CPU, so that it continues exactly)."""
        device = state.get("noise_rng_device", "cpu")
        if device != self.noise_rng.device.type:
            self.noise_rng = torch.Generator(device=device)
        self.noise_rng.set_state(state["noise_rng"])


def judge_pairs(discriminator: Callable, encode: Callable, dropout_free: bool, data: torch.Tensor,
                condition: torch.Tensor | None, rows: torch.Tensor) -> torch.Tensor:
    """D's logits for ``data`` paired with ``condition``'s ``rows``: the condition tower once per
    condition row, then indexed, when no dropout falls inside it (``dropout_free``)."""
    if condition is None:
        return discriminator(data, None, None).squeeze(-1)
    if dropout_free:
        return discriminator(data, None, take_rows(encode(condition), rows)).squeeze(-1)
    return discriminator(data, take_rows(condition, rows), None).squeeze(-1)


def take_rows(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``x[rows]`` along the row dimension (-2), for one model or a stack of them."""
    return torch.take_along_dim(x, rows.unsqueeze(-1), dim=-2)


