"""The objective and its update: the paper's two losses first, then each term beyond the paper.

Paper §4.1 (Goodfellow et al. 2014, eq. 1, with y fed to both nets):
    min_G max_D  E_x[log D(x|y)] + E_z[log(1 - D(G(z|y)|y))]
D descends the negative of its side of that value; G descends -log D(G(z|y)|y), the
non-saturating form Goodfellow et al. recommend and their code (AdversaryCost2) uses, or the
minimax form log(1 - D(G(z|y)|y)) as the equation writes it. One minibatch is one simultaneous
update of D and G from the same fake samples and dropout masks, as in the GAN code.

Beyond the paper, each a named term in cgan.extra_terms and off at weight 0: the matching-aware
D (mismatched pairs count as fake), the diversity term (DSGAN), the reconstruction term and the
auxiliary classifier (AC-GAN: D and G both descend the class loss of G's samples, D also of real
data's); and
``adversarial_weight`` 0, which builds no D and leaves G with its extra terms alone (a control).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F

from cgan import extra_terms
from cgan.config import require
from cgan.errors import UserFacingError
from cgan.noise import NOISE_KINDS


@dataclass
class ObjectiveSettings:
    """What is optimised: p_z, G's loss form, D steps, and the weights of the terms beyond the
    paper (0 = the paper's objective). Each experiment's YAML names the source of every value."""

    generator_loss: Literal["non_saturating", "minimax"] = "non_saturating"
    noise: str = "unit_uniform"
    noise_dim: int = 100
    # D updates per G update (Goodfellow et al. 2014, Algorithm 1's k; the GAN code and the paper: 1):
    # with k > 1, G moves on every k-th minibatch only, D on every one.
    d_steps: int = 1
    # Beyond the paper, a control: 0 builds no D, so that G learns from its extra terms alone.
    adversarial_weight: float = 1.0
    # Beyond the paper: the weight of real data paired with another row's condition, counted as fake
    # in D's loss (a matching-aware D, Reed et al. 2016 'GAN-CLS': 0.5); 0 = the paper's D.
    mismatched_weight: float = 0.0
    # Beyond the paper: a diversity-sensitive G (Yang et al. 2019, DSGAN): G also maximises
    # weight * min(mean|G(z1|y) - G(z2|y)| / mean|z1 - z2|, cap) per row, with a second noise draw
    # z2 for the same conditions, against a G that ignores its noise; 0 = the paper's G.
    diversity_weight: float = 0.0
    diversity_cap: float = 1.0
    # Which dropout masks G's two draws see in the diversity term: 'independent' (each draw its own,
    # as DSGAN with a dropout G does: the ratio then also counts G's dropout noise, and stays at the
    # cap even where G ignores z) or 'shared' (one mask for both draws: only z can spread them).
    diversity_masks: Literal["independent", "shared"] = "independent"
    # Beyond the paper: G also descends weight * (1 - cos(G(z|y), x)) against the real row x of its
    # condition, the reconstruction term of conditional GANs for translation (Isola et al. 2017,
    # pix2pix, there with L1); cosine because Flickr's tags are decoded by cosine. 0 = the paper's G.
    reconstruction_weight: float = 0.0
    # Beyond the paper: an auxiliary classifier (Odena et al. 2017, AC-GAN): D gets a head naming
    # each real row's classes (MIR Flickr's 24 concepts of its image) from the data alone; D descends
    # weight * the head's loss on real and generated rows, G weight * its loss on generated rows.
    # 0 = the paper's D and G.
    auxiliary_weight: float = 0.0

    def check(self) -> None:
        require(self.noise in NOISE_KINDS, f"objective.noise must be one of {', '.join(NOISE_KINDS)}")
        require(self.noise_dim >= 1, "objective.noise_dim must be >= 1")
        require(self.d_steps >= 1, "objective.d_steps must be >= 1 (D updates per G update)")
        require(self.adversarial_weight in (0.0, 1.0),
                "objective.adversarial_weight must be 1 (the paper) or 0 (no D: the extra terms alone)")
        require(0 <= self.mismatched_weight < 1, "objective.mismatched_weight must be in [0, 1)")
        require(self.diversity_weight >= 0, "objective.diversity_weight must be >= 0 (0 = the paper's G)")
        require(self.diversity_cap > 0, "objective.diversity_cap must be > 0")
        require(self.diversity_masks in ("independent", "shared"),
                "objective.diversity_masks must be 'independent' or 'shared'")
        require(self.reconstruction_weight >= 0, "objective.reconstruction_weight must be >= 0 (0 = the paper's G)")
        require(self.auxiliary_weight >= 0, "objective.auxiliary_weight must be >= 0 (0 = the paper's D and G)")
        require(self.adversarial or not self.auxiliary_weight,
                "objective.auxiliary_weight needs a D (its head is D's): set adversarial_weight 1 or the term to 0")
        require(self.adversarial or self.diversity_weight > 0 or self.reconstruction_weight > 0,
                "objective.adversarial_weight 0 leaves G nothing to learn: give it a diversity or reconstruction weight")

    @property
    def adversarial(self) -> bool:
        """Whether there is a D at all."""
        return self.adversarial_weight > 0

    def identity(self) -> dict[str, Any]:
        """The settings that shape the weights, as checkpoints made before the objective had its own
        section keyed them: a term's settings only when it is on (diversity_masks only when not the
        default, adversarial_weight only when 0), so that earlier runs keep their keys."""
        skip = {*(["adversarial_weight"] if self.adversarial else []),
                *(["diversity_weight", "diversity_cap"] if not self.diversity_weight else []),
                *(["diversity_masks"] if not self.diversity_weight or self.diversity_masks == "independent" else []),
                *(["reconstruction_weight"] if not self.reconstruction_weight else []),
                *(["auxiliary_weight"] if not self.auxiliary_weight else [])}
        return {k: v for k, v in asdict(self).items() if k not in skip}

    def noise_rows(self, rows: int) -> int:
        """Noise draws per minibatch of ``rows``: twice as many with a diversity term (z1, z2)."""
        return 2 * rows if self.diversity_weight > 0 else rows

    def stats(self) -> tuple[str, ...]:
        """Names of the per-update statistics ``losses`` returns under these settings."""
        adversarial = ("d_loss", "g_loss", "d_real", "d_fake") if self.adversarial else ("g_loss",)
        return (*adversarial, *(["d_mismatched"] if self.adversarial and self.mismatched_weight > 0 else []),
                *(["diversity"] if self.diversity_weight > 0 else []),
                *(["reconstruction"] if self.reconstruction_weight > 0 else []),
                *(["auxiliary_real", "auxiliary_fake"] if self.auxiliary_weight > 0 else []))


def stored_config(config: dict[str, Any]) -> dict[str, Any]:
    """A config as a checkpoint or weights file stores it, in today's schema: files written before
    the objective had its own section hold its settings under ``train``; they are moved, never
    guessed (a key in both places is refused by the schema as any unknown key is)."""
    names = {f for f in ObjectiveSettings.__dataclass_fields__}
    train = dict(config.get("train", {}))
    moved = {k: train.pop(k) for k in list(train) if k in names}
    if not moved:
        return config
    return {**config, "train": train, "objective": {**moved, **config.get("objective", {})}}


# ----- the paper ----------------------------------------------------------------------------
def discriminator_loss(real_logits: torch.Tensor, fake_term: torch.Tensor) -> torch.Tensor:
    """-(log D(x|y) + log(1 - D(G(z|y)|y))) / 2, averaged over rows: AdversaryCost2's D cost.
    ``fake_term`` is -log(1 - D(G(z|y)|y)) per model (``bce(fake_logits, 0).mean(-1)``)."""
    return 0.5 * (bce(real_logits, 1.0).mean(-1) + fake_term)


def generator_loss(fake_logits: torch.Tensor, form: str) -> torch.Tensor:
    """-log D(G(z|y)|y) (non-saturating, the GAN code) or log(1 - D(G(z|y)|y)) (minimax, eq. 1)."""
    if form == "non_saturating":
        return bce(fake_logits, 1.0).mean(-1)
    return -bce(fake_logits, 0.0).mean(-1)


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    """-log sigmoid(logits) for target 1, -log(1 - sigmoid(logits)) for target 0, per row."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target), reduction="none")


# ----- one minibatch ------------------------------------------------------------------------
Generate = Callable[..., torch.Tensor]  # generate(z, condition, twins=False) -> G(z|y)
Judge = Callable[[torch.Tensor, torch.Tensor | None, torch.Tensor], torch.Tensor]  # D's logits
Classify = Callable[[torch.Tensor], torch.Tensor]  # D's auxiliary head: class logits of data alone


def losses(objective: ObjectiveSettings, generate: Generate, judge: Judge | None, data: torch.Tensor,
           condition: torch.Tensor | None, z: torch.Tensor, classify: Classify | None = None,
           labels: torch.Tensor | None = None) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """(D's loss, G's loss, statistics) of one minibatch of real rows ``data`` (x) and their
    conditions (y). ``generate(z, condition, twins=False)`` gives G(z|y); ``judge(data, condition,
    rows)`` D's logits for data paired with ``condition[rows]`` (None when there is no D). ``z``
    holds objective.noise_rows(n) rows: with a diversity term its second half is a second draw for
    the same conditions. With an auxiliary term, ``classify(data)`` gives D's head's class logits
    and ``labels`` each real row's classes (0/1 per class). Tensors may carry a leading dimension of stacked models (cgan.stacked):
    the losses are then one per model, the statistics (stats, models)."""
    n = data.shape[-2]
    z, z2 = z[..., :n, :], z[..., n:, :]
    if objective.diversity_weight > 0 and objective.diversity_masks == "shared":
        fake, fake2 = extra_terms.twin_draws(generate, z, z2, condition)
    else:
        fake, fake2 = generate(z, condition), None  # G(z|y)
    d_loss, g_loss, d_stats, extra_stats = None, torch.zeros(data.shape[:-2], device=data.device), [], []
    if objective.adversarial:
        rows = torch.arange(n, device=data.device).expand(*data.shape[:-2], n)
        matching_aware = objective.mismatched_weight > 0 and condition is not None
        if matching_aware:  # D also sees each real x with another row's condition
            other, has_other = extra_terms.mismatched_rows(condition)
            logits = judge(torch.cat([data, fake, data], dim=-2), condition, torch.cat([rows, rows, other], dim=-1))
        else:
            logits = judge(torch.cat([data, fake], dim=-2), condition, torch.cat([rows, rows], dim=-1))
        real_logits, fake_logits = logits[..., :n], logits[..., n:2 * n]
        fake_term = bce(fake_logits, 0.0).mean(-1)
        if matching_aware:
            wrong_logits = logits[..., 2 * n:]
            fake_term = extra_terms.matching_aware(fake_term, bce(wrong_logits, 0.0), has_other,
                                                   objective.mismatched_weight)
        d_loss = discriminator_loss(real_logits, fake_term)
        g_loss = generator_loss(fake_logits, objective.generator_loss)
        d_stats = [torch.sigmoid(real_logits).mean(-1), torch.sigmoid(fake_logits).mean(-1),
                   *([torch.sigmoid(wrong_logits).mean(-1)] if matching_aware else [])]
    if objective.diversity_weight > 0:
        fake2 = generate(z2, condition) if fake2 is None else fake2  # own masks: drawn after D's
        diversity = extra_terms.diversity_ratio(fake, fake2, z, z2, objective.diversity_cap)
        g_loss = g_loss - objective.diversity_weight * diversity
        extra_stats.append(diversity)
    if objective.reconstruction_weight > 0:
        reconstruction = extra_terms.reconstruction(fake, data)
        g_loss = g_loss + objective.reconstruction_weight * reconstruction
        extra_stats.append(reconstruction)
    if objective.auxiliary_weight > 0:
        if classify is None or labels is None:
            raise UserFacingError("objective.auxiliary_weight needs class labels per row and a D with an auxiliary "
                                  "head; only the Flickr pipeline supplies them (MIR Flickr's concepts)")
        class_logits = classify(torch.cat([data, fake], dim=-2))
        real_class = extra_terms.auxiliary_classification(class_logits[..., :n, :], labels)
        fake_class = extra_terms.auxiliary_classification(class_logits[..., n:, :], labels)
        d_loss = d_loss + objective.auxiliary_weight * (real_class + fake_class)
        g_loss = g_loss + objective.auxiliary_weight * fake_class
        extra_stats.extend([real_class, fake_class])
    with torch.no_grad():  # in the order of objective.stats()
        head = [d_loss, g_loss, *d_stats[:2]] if objective.adversarial else [g_loss]
        stats = torch.stack([s.detach() for s in [*head, *d_stats[2:], *extra_stats]])
    return d_loss, g_loss, stats


def step(objective: ObjectiveSettings, generate: Generate, judge: Judge | None, data: torch.Tensor,
         condition: torch.Tensor | None, z: torch.Tensor, d_params: list[torch.Tensor],
         g_params: list[torch.Tensor], optimizer, lr: float, momentum: float, update: int,
         classify: Classify | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
    """The one update, for a single model or a stack: the minibatch's losses, then ``descend``;
    returns the statistics."""
    d_loss, g_loss, stats = losses(objective, generate, judge, data, condition, z, classify, labels)
    descend(objective, d_loss, g_loss, d_params, g_params, optimizer, lr, momentum, update)
    return stats


def descend(objective: ObjectiveSettings, d_loss: torch.Tensor | None, g_loss: torch.Tensor,
            d_params: list[torch.Tensor], g_params: list[torch.Tensor], optimizer, lr: float, momentum: float,
            update: int) -> None:
    """One momentum-SGD step: D down its loss on every minibatch, G down its own on every
    d_steps-th (``update`` counts from 0). Stacked models' losses are summed, which leaves each
    model's gradient its own."""
    move_g = (update + 1) % objective.d_steps == 0
    d_grads = torch.autograd.grad(d_loss.sum(), d_params, retain_graph=move_g) if d_loss is not None else ()
    g_grads = torch.autograd.grad(g_loss.sum(), g_params) if move_g else ()
    optimizer.step(list(d_grads) + list(g_grads), lr, momentum)  # D's parameters come first
