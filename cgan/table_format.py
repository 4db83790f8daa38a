"""Across-seed spread as the tables print it: one formatting for every report."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mean_sd(values: Sequence[float] | np.ndarray, digits: int = 1) -> str:
    """'mean ± sd' with the sample standard deviation (ddof 1): seeds are a sample of the runs one
    could have made, not the whole population."""
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"
