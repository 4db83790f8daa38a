"""What every result file records: command, commit, machine, versions, wall time."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import torch

from cgan.runs.paths import REPO_ROOT


def git_commit() -> str:
    """HEAD's hash, with '+dirty' when tracked files differ from it. In a copy of the tree without
    its .git folder (e.g. sent to a GPU machine), the hash that $CGAN_GIT_COMMIT states, else 'unknown'."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True,
                              text=True, check=False).stdout.strip()

    commit = git("rev-parse", "HEAD") or os.environ.get("CGAN_GIT_COMMIT") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return commit + ("+dirty" if dirty else "")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    info = {
        "host": platform.node(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),  # plain text: checkpoints hold plain data only
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def command_line() -> str:
    """The command as a user would type it: ``python -m package.module ...`` for a module of this
    repository (``sys.argv[0]`` is then the module's absolute path), never an absolute path."""
    args = list(sys.argv)
    script = Path(args[0]).resolve() if args and args[0] else None
    if script is not None and script.suffix == ".py" and script.is_relative_to(REPO_ROOT):
        module = ".".join(script.relative_to(REPO_ROOT).with_suffix("").parts)
        args = ["-m", module.removesuffix(".__main__"), *args[1:]]
    return portable_command(shlex.join(["python", *args]))  # quoted: --run 'a label=runs/x' stays one argument


def portable_command(command: str) -> str:
    """A recorded command free of this computer's folders: paths inside the repository relative
    to it, paths under the home folder from ``~`` (the same path to the shell)."""
    command = command.replace(f"{REPO_ROOT}/", "").replace(str(REPO_ROOT), ".")
    home = str(Path.home())
    return command.replace(f"{home}/", "~/") if home not in ("/", "") else command


def provenance() -> dict:
    """A dict to embed in result JSON files."""
    return {
        "command": command_line(),
        "commit": git_commit(),
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
