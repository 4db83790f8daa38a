"""Where data is read from and where derived files go; each overridable by an environment variable."""

import os
from pathlib import Path

from cgan.errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_root(override: str | os.PathLike | None = None) -> Path:
    """Folder holding local copies of raw data sets (may be read-only).

    Order: explicit argument (a --data-root flag), $CGAN_DATA_ROOT, then <repo>/data.
    """
    if override:
        return Path(override).expanduser().resolve()
    env = os.environ.get("CGAN_DATA_ROOT")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / "data"


def check_data_root_exists(override: str | os.PathLike | None, cache: Path, dataset: str) -> None:
    """Before downloading ``dataset``: a data root that was set (argument or $CGAN_DATA_ROOT) but
    does not exist is a mistyped path, not a wish to download; say so instead of downloading."""
    if not (override or os.environ.get("CGAN_DATA_ROOT")):
        return
    root = data_root(override)
    if not root.exists():
        source = "--data-root" if override else "$CGAN_DATA_ROOT"
        raise DataError(
            f"the data root {root} (from {source}) does not exist, so {dataset} was not looked for there. "
            f"Fix the path, or unset {source} to download {dataset} into {cache}.")


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """Writable folder for downloads, decoded arrays, features and cached weights.

    Order: explicit argument, $CGAN_CACHE_DIR, then <repo>/.cache.
    """
    if override:
        path = Path(override).expanduser().resolve()
    else:
        env = os.environ.get("CGAN_CACHE_DIR")
        path = Path(env).expanduser().resolve() if env else REPO_ROOT / ".cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


DATA_ROOT_MARK = "$CGAN_DATA_ROOT"


def portable(path: str | os.PathLike) -> str:
    """A path as result files record it, free of this machine's folders: relative to the repository
    when inside it, ``$CGAN_DATA_ROOT/...`` when inside the data root, ``~/...`` under the home
    folder, else as given."""
    path = Path(path).expanduser().resolve()
    if path.is_relative_to(REPO_ROOT):
        return path.relative_to(REPO_ROOT).as_posix()
    root = data_root()
    if path.is_relative_to(root):
        return f"{DATA_ROOT_MARK}/{path.relative_to(root).as_posix()}"
    home = Path.home()
    if home != Path("/") and path.is_relative_to(home):
        return f"~/{path.relative_to(home).as_posix()}"
    return str(path)


def resolve(recorded: str) -> Path:
    """The local path of a path recorded by ``portable``."""
    if recorded.startswith(DATA_ROOT_MARK + "/"):
        return data_root() / recorded[len(DATA_ROOT_MARK) + 1:]
    path = Path(recorded).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path
