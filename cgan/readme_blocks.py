"""README tables written by the commands that compute their numbers, so that no number in the
README is typed by hand: each sits between ``<!-- begin NAME -->`` and ``<!-- end NAME -->``
lines, and the command that owns it replaces what lies between (a test re-renders every block
from the committed results and fails when the README has drifted).
"""

from __future__ import annotations

import re
from pathlib import Path

from cgan.runs.files import atomic_write
from cgan.runs.paths import REPO_ROOT

README = REPO_ROOT / "README.md"


def _pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- begin {re.escape(name)} -->\n)(.*?)(<!-- end {re.escape(name)} -->)", re.S)


def read_block(text: str, name: str) -> str | None:
    """What lies between the block's markers, or None when the text has no such block."""
    match = _pattern(name).search(text)
    return match.group(2) if match else None


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the block's content replaced by ``body`` (which ends with a newline)."""
    if read_block(text, name) is None:
        raise ValueError(f"no '<!-- begin {name} -->' ... '<!-- end {name} -->' block")
    return _pattern(name).sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(3), text, count=1)


def update_readme(name: str, body: str, readme: Path = README) -> bool:
    """Write ``body`` into the README's block ``name``; False (nothing written) when the README or
    the block is missing, e.g. in a copy of the results elsewhere."""
    text = readme.read_text() if readme.is_file() else ""
    if read_block(text, name) is None:
        return False
    text = replace_block(text, name, body)
    atomic_write(readme, lambda handle: handle.write(text.encode()))
    return True
