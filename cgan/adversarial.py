"""The paper's adversarial update (AdversaryCost2 + SGD), on the shared training loop (cgan.training).

One minibatch = one simultaneous update of D and G from the same fake samples and the same
dropout masks, as in the GAN code: D descends 0.5*(BCE(D(x|y),1) + BCE(D(G(z|y)|y),0)),
G descends BCE(D(G(z|y)|y),1) (the non-saturating objective). Beyond the paper, and off unless a
config turns them on: a matching-aware D (mismatched pairs), a diversity-sensitive G (DSGAN) and a
reconstruction term in G's loss.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from cgan.networks import TowerNet, TwinMasks
from cgan.noise import sample_noise
from cgan.training import ShuffledBatches, Trainer, TrainSettings


class AdversarialTrainer(Trainer):
    """The paper's update: one simultaneous step of D and G per minibatch (AdversaryCost2)."""

    STATS = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(self, generator: TowerNet, discriminator: TowerNet, batches: ShuffledBatches,
                 settings: TrainSettings, run_dir: str | Path, seed: int, **kwargs):
        # D's parameters first: the optimizer's order, kept from the first runs so they resume.
        super().__init__({"discriminator": discriminator, "generator": generator}, batches, settings,
                         run_dir, seed, **kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.g_params = list(generator.parameters())
        self.d_params = list(discriminator.parameters())
        self.noise_rng = torch.Generator(device=self.device).manual_seed(seed)
        self.STATS = adversarial_stats(settings)

    def update(self, data: torch.Tensor, condition: torch.Tensor | None, lr: float,
               momentum: float) -> torch.Tensor:
        """Returns [d_loss, g_loss, mean D(real), mean D(fake)(, mean D(mismatched))]."""
        z = sample_noise(self.settings.noise, self.settings.noise_rows(data.shape[0]), self.settings.noise_dim,
                         self.noise_rng)
        d_loss, g_loss, stats = adversarial_losses(
            self.settings, self.generate, self.judge, data, condition, z.to(self.device))
        move_g = (self.updates + 1) % self.settings.d_steps == 0
        d_grads = torch.autograd.grad(d_loss, self.d_params, retain_graph=move_g)
        g_grads = torch.autograd.grad(g_loss, self.g_params) if move_g else ()
        self.optimizer.step(list(d_grads) + list(g_grads), lr, momentum)  # D's parameters come first
        return stats

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

    def rng_state(self) -> dict[str, Any]:
        return {"noise_rng": self.noise_rng.get_state(), "noise_rng_device": self.noise_rng.device.type}

    def load_rng_state(self, state: dict[str, Any]) -> None:
        """The noise stream as saved; on the device it was saved from (a CPU run resumed on a GPU
        keeps drawing its noise on the CPU, so that it continues exactly)."""
        device = state.get("noise_rng_device", "cpu")
        if device != self.noise_rng.device.type:
            self.noise_rng = torch.Generator(device=device)
        self.noise_rng.set_state(state["noise_rng"])


def adversarial_stats(settings: TrainSettings) -> tuple[str, ...]:
    """Names of the per-update statistics adversarial_losses returns for these settings."""
    return (*AdversarialTrainer.STATS, *(["d_mismatched"] if settings.mismatched_weight > 0 else []),
            *(["diversity"] if settings.diversity_weight > 0 else []),
            *(["reconstruction"] if settings.reconstruction_weight > 0 else []))


def diversity_ratio(fake: torch.Tensor, fake2: torch.Tensor, z: torch.Tensor, z2: torch.Tensor,
                    cap: float) -> torch.Tensor:
    """DSGAN's term (Yang et al. 2019): per row, mean|fake - fake2| / mean|z - z2|, capped at
    ``cap``, averaged over rows (one value per stacked model)."""
    ratio = (fake - fake2).abs().mean(-1) / (z - z2).abs().mean(-1).clamp(min=1e-8)
    return ratio.clamp(max=cap).mean(-1)


def adversarial_losses(settings: TrainSettings, generate: Callable, judge: Callable, data: torch.Tensor,
                       condition: torch.Tensor | None, z: torch.Tensor):
    """(D's loss, G's loss, statistics) of one minibatch: ``generate(z, condition, twins=False)``
    gives the fake rows, ``judge(data, condition, rows)`` D's logits for data paired with
    ``condition``'s rows. ``z`` holds settings.noise_rows(n) rows: with a diversity term, its second
    half is a second draw for the same conditions, generated in one pass with the first under the
    same dropout masks (``twins``) when settings.diversity_masks is 'shared'. Tensors may carry a leading dimension of stacked models
    (cgan.stacked): the losses are then one per model, and the statistics (stats, models)."""
    n, weight = data.shape[-2], settings.mismatched_weight
    z, z2 = z[..., :n, :], z[..., n:, :]
    fake2 = None
    if settings.diversity_weight > 0 and settings.diversity_masks == "shared":
        twice = None if condition is None else torch.cat([condition, condition], dim=-2)
        both = generate(torch.cat([z, z2], dim=-2), twice, twins=True)
        fake, fake2 = both[..., :n, :], both[..., n:, :]
    else:
        fake = generate(z, condition)
    rows = torch.arange(n, device=data.device).expand(*data.shape[:-2], n)
    matching_aware = weight > 0 and condition is not None
    if matching_aware:
        other, has_other = mismatched_rows(condition)
        logits = judge(torch.cat([data, fake, data], dim=-2), condition, torch.cat([rows, rows, other], dim=-1))
        real_logits, fake_logits, wrong_logits = logits[..., :n], logits[..., n:2 * n], logits[..., 2 * n:]
    else:
        logits = judge(torch.cat([data, fake], dim=-2), condition, torch.cat([rows, rows], dim=-1))
        real_logits, fake_logits = logits[..., :n], logits[..., n:]
    fake_term = _bce(fake_logits, 0.0).mean(-1)
    if matching_aware:
        wrong_term = (_bce(wrong_logits, 0.0) * has_other).sum(-1) / has_other.sum(-1).clamp(min=1)
        fake_term = (1 - weight) * fake_term + weight * wrong_term
    d_loss = 0.5 * (_bce(real_logits, 1.0).mean(-1) + fake_term)
    if settings.generator_loss == "non_saturating":
        g_loss = _bce(fake_logits, 1.0).mean(-1)
    else:
        g_loss = -_bce(fake_logits, 0.0).mean(-1)
    diversity = None
    if settings.diversity_weight > 0:
        fake2 = generate(z2, condition) if fake2 is None else fake2
        diversity = diversity_ratio(fake, fake2, z, z2, settings.diversity_cap)
        g_loss = g_loss - settings.diversity_weight * diversity
    reconstruction = None
    if settings.reconstruction_weight > 0:
        reconstruction = (1 - F.cosine_similarity(fake, data, dim=-1)).mean(-1)
        g_loss = g_loss + settings.reconstruction_weight * reconstruction
    with torch.no_grad():
        stats = [d_loss, g_loss, torch.sigmoid(real_logits).mean(-1), torch.sigmoid(fake_logits).mean(-1)]
        if matching_aware:
            stats.append(torch.sigmoid(wrong_logits).mean(-1))
        if diversity is not None:
            stats.append(diversity)
        if reconstruction is not None:
            stats.append(reconstruction)
        return d_loss, g_loss, torch.stack(stats)


def judge_pairs(discriminator: Callable, encode: Callable, dropout_free: bool, data: torch.Tensor,
                condition: torch.Tensor | None, rows: torch.Tensor) -> torch.Tensor:
    """D's logits for ``data`` paired with ``condition``'s ``rows``: the condition tower once per
    condition row, then indexed, when no dropout falls inside it (``dropout_free``)."""
    if condition is None:
        return discriminator(data, None, None).squeeze(-1)
    if dropout_free:
        return discriminator(data, None, take_rows(encode(condition), rows)).squeeze(-1)
    return discriminator(data, take_rows(condition, rows), None).squeeze(-1)


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target), reduction="none")


def take_rows(x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``x[rows]`` along the row dimension (-2), for one model or a stack of them."""
    return torch.take_along_dim(x, rows.unsqueeze(-1), dim=-2)


def mismatched_rows(condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per model of a stack (leading dimension), as ``mismatched_rows_of``."""
    if condition.dim() > 2:
        pairs = [mismatched_rows(c) for c in condition]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    return mismatched_rows_of(condition)


def mismatched_rows_of(condition: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For each row of a minibatch, another row whose condition differs (the first such row after
    it, cyclically), and whether it has one: a real example paired with that condition is a
    mismatched pair, never its own condition (an image with several tags fills several rows)."""
    n = len(condition)
    if n < 2:
        return torch.zeros(n, dtype=torch.long, device=condition.device), torch.zeros(n, device=condition.device)
    others = (torch.arange(n, device=condition.device)[:, None] + torch.arange(1, n, device=condition.device)) % n
    same = (condition[:, None, :] == condition[None, :, :]).all(dim=-1)
    differs = ~same.gather(1, others)
    first = differs.float().argmax(dim=1, keepdim=True)
    return others.gather(1, first).squeeze(1), differs.any(dim=1).float()
