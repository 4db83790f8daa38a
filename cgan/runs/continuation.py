"""Start a run from another run's checkpoints: a longer run of the same settings (the GAN trained
open-ended after its 600-epoch run) continues where the shorter one stopped instead of computing
its epochs again. The epochs before the copy are the same computation either way (neither the
epoch budget nor the run's name is part of what it computes), and the copied checkpoints become
the new run's own: they carry its identity (so its resumes check every setting as for any run), and
the source's history and training sessions (so its results say how its epochs were trained).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cgan.errors import UserFacingError
from cgan.runs.checkpoint import load_checkpoint, save_checkpoint
from cgan.runs.files import write_json
from cgan.runs.locks import FolderLock
from cgan.training import identity_conflicts


def start_from_run(source: str | Path, target: str | Path, identity: dict[str, Any]) -> bool:
    """Copy ``source``'s checkpoints into ``target`` when ``target`` has none yet; True if copied.
    A target that already has a checkpoint keeps it (running the same command again resumes the
    target's own run). ``identity`` is the target run's (the settings that shape its weights): a
    source made with other settings (its name aside) is refused before anything is copied. Both
    folders are locked while copying, so a run being trained is refused."""
    source, target = Path(source), Path(target)
    if (target / "last.pt").exists():
        print(f"{target} already has a checkpoint: continuing it (--continue-from {source} not used)", flush=True)
        return False
    if not (source / "last.pt").is_file():
        raise UserFacingError(f"{source} holds no last.pt to continue from; train that run first, or leave "
                              "out --continue-from to start this one from scratch")
    with FolderLock(source, f"copying its checkpoints to {target}"), FolderLock(target, "training"):
        last = load_checkpoint(source / "last.pt")
        conflicts = identity_conflicts(_unnamed(last.get("identity")), _unnamed(identity))
        if conflicts:
            raise UserFacingError(f"{source} was trained with other settings ({', '.join(conflicts)}), so this "
                                  "run cannot continue from it; nothing was copied")
        if (source / "best.pt").is_file():
            best = load_checkpoint(source / "best.pt")
            save_checkpoint({**best, "identity": identity}, target / "best.pt")
        write_json(last["history"], target / "history.json")  # as Trainer.save writes it
        save_checkpoint({**last, "identity": identity}, target / "last.pt")
    print(f"started {target} from {source}'s checkpoints (epoch {last['epoch']})", flush=True)
    return True


def _unnamed(identity: Any) -> Any:
    return {k: v for k, v in identity.items() if k != "name"} if isinstance(identity, dict) else identity
