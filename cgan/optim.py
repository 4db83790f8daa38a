"""Pylearn2's SGD with (non-Nesterov) momentum, whose rule differs from torch.optim.SGD.

Pylearn2: v <- m*v - lr*grad; w <- w + v. torch.optim.SGD folds lr in after the velocity,
which differs whenever the learning rate changes, and here it changes after every update.
"""

from __future__ import annotations

import torch


class MomentumSGD:
    """Applies externally computed gradients; learning rate and momentum are set by the caller."""

    def __init__(self, params: list[torch.Tensor]):
        self.params = list(params)
        self.velocities = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], lr: float, momentum: float) -> None:
        """Update the first ``len(grads)`` parameters (all of them, or a leading group such as
        D's, which comes first in the adversarial trainer); the others and their velocities stay."""
        params, velocities = self.params[:len(grads)], self.velocities[:len(grads)]
        torch._foreach_mul_(velocities, momentum)
        torch._foreach_add_(velocities, grads, alpha=-lr)
        torch._foreach_add_(params, velocities)

    def state_dict(self) -> dict:
        return {"velocities": [v.clone() for v in self.velocities]}

    def load_state_dict(self, state: dict) -> None:
        for v, saved in zip(self.velocities, state["velocities"], strict=True):
            v.copy_(saved)
