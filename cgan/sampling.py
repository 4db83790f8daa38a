"""How a generator is sampled: with its training-time dropout on, or off.

The project's central finding is that this choice decides the result (a generator trained with
dropout may ignore its noise, so that only the dropout masks vary its output), and the paper
does not say which way it sampled; the GAN code's parzen_ll.py samples without dropout. Both
pipelines take the modes, their order, their labels and the network's sampling state from here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cgan.networks import DropoutMasks, TowerNet
from cgan.run_settings import NetworkSettings

SAMPLING_MODES = ("dropout", "deterministic")
SAMPLING_LABELS = {"dropout": "G sampled with its dropout on", "deterministic": "G sampled without dropout"}


def sampling_modes(generator: NetworkSettings, dropout_first: bool) -> list[str]:
    """The modes that differ for this generator, the configured one first (it picks the
    stopping point and the headline row); only 'deterministic' when G has no dropout."""
    if generator.hidden_keep >= 1 and generator.input_keep >= 1:
        return ["deterministic"]
    return list(SAMPLING_MODES) if dropout_first else list(reversed(SAMPLING_MODES))


def history_suffix(mode: str) -> str:
    """Suffix of a validation measure's key in the history: '' for the deterministic mode."""
    return "_dropout" if mode == "dropout" else ""


@contextmanager
def sampling_state(net: TowerNet, mode: str, seed: int) -> Iterator[TowerNet]:
    """Within the block, ``net`` samples in ``mode``: in training mode with dropout masks from
    their own source seeded with ``seed`` ('dropout'), or in evaluation mode without dropout
    ('deterministic'). The training run's mask stream is never touched, and the network's
    train/eval state and mask source are restored on leaving, also after an exception."""
    if mode not in SAMPLING_MODES:
        raise ValueError(f"unknown sampling mode {mode!r}; choose one of {SAMPLING_MODES}")
    was_training, masks = net.training, net.dropout
    dropout = mode == "dropout"
    net.train(dropout)
    net.dropout = DropoutMasks(seed) if dropout else None
    try:
        yield net
    finally:
        net.train(was_training)
        net.dropout = masks
