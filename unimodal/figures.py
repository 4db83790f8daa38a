"""Digit grids (paper Figure 2 and the generate command); training curves are cgan.plots."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def tile_digits(samples: np.ndarray, rows: int) -> np.ndarray:
    """(n, 784) samples -> one (rows*28, cols*28) image, filled row by row."""
    cols = int(np.ceil(len(samples) / rows))
    canvas = np.ones((rows * 28, cols * 28), dtype=np.float32)
    for i, sample in enumerate(samples):
        r, c = divmod(i, cols)
        canvas[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28] = sample.reshape(28, 28)
    return canvas


def save_digit_grid(samples: np.ndarray, path: Path, rows: int = 10, title: str = "") -> None:
    """Paper Figure 2 layout: with 10 rows of conditional samples, row k holds digit k."""
    canvas = tile_digits(samples, rows)
    fig, ax = plt.subplots(figsize=(canvas.shape[1] / 40, canvas.shape[0] / 40 + 0.4), dpi=100)
    ax.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
