"""The per-epoch validation score that picks a run's stopping point, for any pipeline.

A pipeline supplies only ``measure(mode)``: its validation measures of the generator sampled in
that mode (MNIST: Parzen log-likelihood and sigma; Flickr: P@10 and R@10), drawn with fixed
noise so that epochs differ only by the weights. The first mode's ``score_key`` measure is the
'score' (higher is better) that keeps the best checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable

from cgan.sampling import history_suffix


class ValidationScore:
    def __init__(self, modes: list[str], measure: Callable[[str], dict[str, float]], score_key: str,
                 every_epochs: int = 1, extra: Callable[[], dict[str, float]] | None = None):
        self.modes, self.measure, self.score_key, self.every_epochs = list(modes), measure, score_key, every_epochs
        self.extra = extra  # measures that do not depend on the sampling mode (e.g. of D), once an epoch

    def __call__(self, epoch: int) -> dict[str, float]:
        """Measures of every mode, keyed as in the history ('valid_parzen', 'valid_parzen_dropout',
        ...), and 'score'; nothing on epochs that are not scored."""
        if epoch % self.every_epochs:
            return {}
        record: dict[str, float] = {}
        for mode in self.modes:
            values = self.measure(mode)
            record.update({f"{key}{history_suffix(mode)}": value for key, value in values.items()})
            record.setdefault("score", values[self.score_key])
        if self.extra is not None:
            record.update(self.extra())
        return record
