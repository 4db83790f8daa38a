"""The Pylearn2 schedules the paper trained with, as pure functions of the training clock."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ExponentialDecay:
    """Pylearn2 ``sgd.ExponentialDecay``: after t updates, lr = max(base / factor**t, floor).

    Pylearn2 divides by the factor after every update and clamps at ``min_lr`` for good.
    """

    base: float
    factor: float
    floor: float

    def __call__(self, updates_done: int) -> float:
        # log-space avoids overflow of factor**t for very long runs
        log_lr = math.log(self.base) - updates_done * math.log(self.factor)
        return max(math.exp(log_lr), self.floor)

    def updates_to_floor(self) -> int:
        """First update count at which the learning rate sits on its floor."""
        if self.factor <= 1.0:
            raise ValueError("a decay factor <= 1 never reaches the floor")
        return math.ceil(math.log(self.base / self.floor) / math.log(self.factor))


@dataclass(frozen=True)
class MomentumAdjustor:
    """Pylearn2 ``learning_rule.MomentumAdjustor``: momentum moves linearly from ``initial`` to
    ``final`` between epochs ``start`` and ``saturate``.

    Pylearn2 counts monitor calls, and the first call comes before any training, so the
    momentum used during (1-based) epoch e has alpha = clip((e - start) / (saturate - start)).
    With start=1, saturate=250: 0.5 in epoch 1, 0.7 from epoch 250 on.
    """

    initial: float
    final: float
    start: int
    saturate: int

    def __call__(self, epoch: int) -> float:
        width = self.saturate - self.start
        if width == 0:
            return self.final if epoch >= self.start else self.initial
        alpha = min(max((epoch - self.start) / width, 0.0), 1.0)
        return self.initial * (1 - alpha) + alpha * self.final
