"""The objective's terms beyond the paper (cgan.objective adds each to the paper's losses; all are
off at weight 0). Each works on one model's tensors or on a stack of models (a leading dimension).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


# ----- matching-aware D (Reed et al. 2016, GAN-CLS) -----------------------------------------
def matching_aware(fake_term: torch.Tensor, wrong_rows: torch.Tensor, has_other: torch.Tensor,
                   weight: float) -> torch.Tensor:
    """D's fake side with real data paired with another row's condition counted as fake too:
    (1 - weight) * fake term + weight * the mean of ``wrong_rows`` (-log(1 - D(x|y')) per row) over
    the rows that have another condition."""
    wrong_term = (wrong_rows * has_other).sum(-1) / has_other.sum(-1).clamp(min=1)
    return (1 - weight) * fake_term + weight * wrong_term


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


# ----- diversity-sensitive G (Yang et al. 2019, DSGAN) --------------------------------------
def twin_draws(generate, z: torch.Tensor, z2: torch.Tensor,
               condition: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(G(z|y), G(z2|y)) in one pass under the same dropout masks (``diversity_masks: shared``,
    this repository's own choice: only z can then separate the two draws)."""
    twice = None if condition is None else torch.cat([condition, condition], dim=-2)
    both = generate(torch.cat([z, z2], dim=-2), twice, twins=True)
    n = z.shape[-2]
    return both[..., :n, :], both[..., n:, :]


def diversity_ratio(fake: torch.Tensor, fake2: torch.Tensor, z: torch.Tensor, z2: torch.Tensor,
                    cap: float) -> torch.Tensor:
    """DSGAN's term: per row, mean|fake - fake2| / mean|z - z2|, capped at ``cap``, averaged over
    rows (one value per stacked model)."""
    ratio = (fake - fake2).abs().mean(-1) / (z - z2).abs().mean(-1).clamp(min=1e-8)
    return ratio.clamp(max=cap).mean(-1)


# ----- reconstruction (Isola et al. 2017, pix2pix; cosine here) -----------------------------
def reconstruction(fake: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """1 - cos(G(z|y), x) against the real row x of each condition, averaged over rows."""
    return (1 - F.cosine_similarity(fake, data, dim=-1)).mean(-1)


# ----- auxiliary classifier (Odena et al. 2017, AC-GAN) -------------------------------------
def auxiliary_classification(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """-log P(classes | x) of D's auxiliary head, each class a yes/no question (an image may hold
    several of MIR Flickr's concepts, or none): binary cross-entropy averaged over classes and rows
    (one value per stacked model)."""
    return F.binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(-1).mean(-1)
