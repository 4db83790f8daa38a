"""Result files of the encoder stages: what was run, on what, how long, and how it departs from
the paper. Each JSON record carries its deviations first, then the numbers, then provenance."""

from __future__ import annotations

import json
from pathlib import Path

from cgan.config import to_dict
from cgan.runs.files import atomic_write
from cgan.runs.provenance import provenance


def result_record(*, config, seed: int | None, wall_seconds: float, deviations: list[str],
                  **results) -> dict:
    return {"deviations": deviations, **results, "seed": seed, "wall_seconds": round(wall_seconds, 2),
            "config": to_dict(config), "provenance": provenance()}


def write_markdown_report(title: str, record: dict, body: str, path: str | Path) -> Path:
    """Markdown with the deviations in its header and the full record (config, provenance) at the end."""
    lines = [f"# {title}", "", "**Deviations from the paper (Mirza & Osindero 2014, §4.2):**", ""]
    lines += [f"- {item}" for item in record["deviations"]]
    lines += ["", body.rstrip(), "", "## Record", "",
              f"Seed {record['seed']}, wall time {record['wall_seconds']:.1f} s, "
              f"commit {record['provenance']['commit']}, {record['provenance']['date']}.", "",
              "```json", json.dumps({k: v for k, v in record.items() if k != "deviations"},
                                    indent=2, default=str), "```", ""]
    text = "\n".join(lines)
    path = Path(path)
    atomic_write(path, lambda handle: handle.write(text.encode()))
    return path
