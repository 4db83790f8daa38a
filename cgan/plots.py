"""Training curves, one panel per measured quantity and one line per run: shared by both pipelines."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# A panel: the history keys drawn in it and its title. A key ending in '_dropout' is drawn dashed
# (the generator sampled with its dropout on).
Panel = tuple[tuple[str, ...], str]


def save_curves(histories: dict[str, list[dict]], path: Path, panels: list[Panel], columns: int = 2) -> None:
    """Per-epoch values of ``panels``' keys from each run's history (records lacking a key, or
    holding None there, are skipped), in a grid of ``columns`` panels per row."""
    rows = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.5 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_axis_off()
    for ax, (keys, label) in zip(axes.flat, panels):
        for name, history in histories.items():
            for key in keys:
                points = [(r["epoch"], r[key]) for r in history if r.get(key) is not None]
                if points:
                    dropout = key.endswith("_dropout")
                    ax.plot(*zip(*points), linewidth=1, linestyle="--" if dropout else "-",
                            label=f"{name} (G dropout on)" if dropout else name)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
