"""The README: its tables are what the commands write from the committed results, and every
command it shows exists and answers --help."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cgan.readme_blocks import read_block, replace_block

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def test_table1_block_is_what_make_tables_writes_from_the_results():
    from unimodal.report import REAL_REFERENCE, load_real_reference, load_runs, readme_table

    results = REPO / "results" / "mnist"
    assert read_block(README, "table1") == readme_table(load_runs(results), load_real_reference(results / REAL_REFERENCE))


def test_flickr_block_is_what_the_controls_command_writes_from_the_results():
    from multimodal.controls import measured_rows, readme_table

    assert read_block(README, "flickr") == readme_table(measured_rows(REPO / "results" / "flickr"))


def test_a_block_is_replaced_between_its_markers_only():
    text = "before\n<!-- begin t -->\nold\n<!-- end t -->\nafter\n"
    assert replace_block(text, "t", "new\n") == "before\n<!-- begin t -->\nnew\n<!-- end t -->\nafter\n"
    with pytest.raises(ValueError, match="no '<!-- begin u -->'"):
        replace_block(text, "u", "x")


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z0-9][a-z0-9-]*):", (REPO / "Makefile").read_text(), re.M))


def test_every_make_target_the_readme_shows_exists():
    shown = set(re.findall(r"\bmake ([a-z0-9][a-z0-9-]*)", README))
    assert {"test", "mnist", "flickr-tags", "table1-from-weights"} <= shown
    assert shown <= make_targets(), f"not in the Makefile: {sorted(shown - make_targets())}"


@pytest.mark.slow
def test_every_python_module_the_readme_shows_answers_help():
    modules = sorted(set(re.findall(r"python -m ([a-z_][a-z0-9_.]*)", README)))
    assert "multimodal.tag" in modules
    for module in modules:
        done = subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0 and "usage" in done.stdout.lower(), f"{module}: {done.stderr[-500:]}"


def prose(text: str) -> str:
    """Markdown without its fenced blocks (recorded provenance) and the benches' recorded GPU line."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return "\n".join(line for line in text.splitlines() if not line.startswith("| cuda |"))


def test_user_facing_text_speaks_of_the_project_only():
    """No word of how the project was built in what users read."""
    texts = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "results").rglob("*.md"))]
    pattern = re.compile(r"\b([Ss]essions?|VMs?|[Tt]his machine|machines? lost|[Ii]ssue \d+|the issue)\b")
    found = [f"{path.relative_to(REPO)}: {match.group(0)}" for path in texts
             for match in pattern.finditer(prose(path.read_text()))]
    assert not found, found[:20]
