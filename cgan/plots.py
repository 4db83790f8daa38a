"""Training curves, one panel per measured quantity and one line per run: shared by both pipelines."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402

# Fonts that cover Chinese, Japanese and Korean, tried in this order after a figure's own family:
# MIR Flickr's tags include a few (e.g. 台灣), which DejaVu draws as empty boxes.
CJK_FONTS = ("Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK KR",
             "Source Han Sans", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Droid Sans Fallback",
             "AR PL UMing CN", "Microsoft YaHei", "MS Gothic", "PingFang SC", "Hiragino Sans")


def with_cjk_fallback(family: str) -> list[str]:
    """``family`` followed by the installed fonts of CJK_FONTS: matplotlib falls back glyph by glyph
    along the list, so tags in those scripts are drawn; with none installed they stay boxes."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return [family, *(name for name in CJK_FONTS if name in installed)]


# A panel: the history keys drawn in it and its title. A pair (key, key + '_dropout') is one measure
# in two sampling modes, the second drawn dashed (the generator sampled with its dropout on); other
# keys are named in the legend.
Panel = tuple[tuple[str, ...], str]


def save_curves(histories: dict[str, list[dict]], path: Path, panels: list[Panel], columns: int = 2) -> None:
    """Per-epoch values of ``panels``' keys from each run's history (records lacking a key, or
    holding None there, are skipped), in a grid of ``columns`` panels per row."""
    rows = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.5 * rows), squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_axis_off()
    colours = {name: f"C{index % 10}" for index, name in enumerate(histories)}  # a run keeps its colour
    for ax, (keys, title) in zip(axes.flat, panels):
        paired = len(keys) == 2 and keys[1] == keys[0] + "_dropout"  # one measure, two sampling modes
        for name, history in histories.items():
            for index, key in enumerate(keys):
                points = [(r["epoch"], r[key]) for r in history if r.get(key) is not None]
                if points:
                    dropout = paired and key == keys[1]
                    line = name if len(keys) == 1 or paired else f"{name}: {key}"
                    ax.plot(*zip(*points), linewidth=1, linestyle=("-", "--", ":", "-.")[index % 4],
                            color=colours[name], label=f"{line} (G dropout on)" if dropout else line)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
