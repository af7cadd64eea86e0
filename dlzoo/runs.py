"""A run's folder: where `dlzoo train`, a fine-tune and each fold keep their resumable state
while they run (`OUTPUT/.runs/NAME/`), the lock that keeps a second run of the same name out, and
the log a resume trims back to the epochs its backup holds. Used by `dlzoo.training` and
`dlzoo.transfer.finetune` alike."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from pathlib import Path

from dlzoo.callbacks import find_backup
from dlzoo.files import RunLock, remove_stale_temps, write_text
from dlzoo.saving import is_saved_model

__all__ = ["prepare_run_dir", "refuse_existing", "remove_run_dir", "run_dir_for", "run_lock",
           "trim_log"]


def run_dir_for(output, name: str) -> Path:
    """Where a run keeps its resumable state: `OUTPUT/.runs/NAME`."""
    return Path(output) / ".runs" / name


def _fingerprint(recipe: dict) -> str:
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, default=str).encode()).hexdigest()


def _diff(a, b, prefix=""):
    """`(dotted key, value before, value now)` of every leaf that differs."""
    keys = sorted(set(a) | set(b)) if isinstance(a, dict) and isinstance(b, dict) else None
    if keys is None:
        return [(prefix.rstrip("."), a, b)] if a != b else []
    out = []
    for k in keys:
        out += _diff(a.get(k), b.get(k), f"{prefix}{k}.")
    return out


def _short(value) -> str:
    text = "unset" if value is None else json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def prepare_run_dir(run_dir: Path, recipe: dict, resume: bool, log=print, *,
                    same: str = "the same recipe and --set options", name_of=None) -> int:
    """Sets up the run folder; returns the number of finished epochs a resume starts from.

    A resume starts from the newest whole backup (`dlzoo.callbacks.find_backup`): a torn or
    inconsistent one, left by a kill or a full disk, is reported and the one before it is used.
    `recipe` is what the run was started with (a fine-tune's settings, too); a resume with
    another is refused, naming what changed (`name_of(dotted key)`: how the user set it, e.g.
    a flag; default the recipe key), its value then and now, and asking for `same`.
    """
    recipe_file = run_dir / "recipe.json"
    if not resume:
        if run_dir.exists():
            log(f"note: discarding the unfinished run in {run_dir} (use --resume to continue it)")
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        write_text(recipe_file, json.dumps(recipe, indent=2, default=str))
        return 0
    try:
        previous = json.loads(recipe_file.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(
            f"--resume: no unfinished run of {recipe['name']!r} in {run_dir}; "
            "run without --resume to start one."
        ) from None
    except ValueError as e:  # written atomically: only a damaged disk gets here
        raise ValueError(f"--resume: {recipe_file} is unreadable ({e}); run without --resume "
                         "to start again.") from None
    if _fingerprint(previous) != _fingerprint(json.loads(json.dumps(recipe, default=str))):
        changed = ", ".join(
            f"{(name_of or str)(key)} {_short(then)} when started, {_short(now)} now"
            for key, then, now in _diff(previous, json.loads(json.dumps(recipe, default=str))))
        raise ValueError(
            f"--resume: the {'recipe' if 'recipe' in same else 'settings'} changed since the run "
            f"started ({changed}); resume with {same}, or start again without --resume."
        )
    remove_stale_temps(run_dir)  # left by a kill during a write; the run's lock is ours
    done, _ = find_backup(run_dir / "backup", log=log)
    trim_log(run_dir / "history.csv", done)
    return done


def refuse_existing(targets, *, elsewhere: str = "--output another folder") -> None:
    """Before anything trains: FileExistsError (one line) for the first of `targets` (paths a
    run would save a model to) that already holds files. Callers check their `overwrite` and
    `resume` first; `elsewhere` says which folder option to change."""
    for target in map(Path, targets):
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            what = "a saved model" if is_saved_model(target) else "files"
            raise FileExistsError(
                f"{target} already holds {what}; pass --overwrite (overwrite=True in Python) to "
                f"replace it, or {elsewhere}.")


def run_lock(output, name: str, *, log=print):
    """The exclusive lock of the run `name` in `output` (`OUTPUT/.runs/NAME.lock`): a second
    run of the same name is refused while the first lives ("another run of NAME is in progress
    (pid N)"); a lock left by a killed run is taken over. See `dlzoo.files.RunLock`."""
    return RunLock(Path(output) / ".runs" / f"{name}.lock", f"run of {name}", log=log)


def trim_log(path: Path, epochs_done: int) -> None:
    """Keeps the header and the rows of the epochs the backup holds."""
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    if not lines:
        return
    keep = [lines[0]]
    for line in lines[1:]:
        first = line.split(",", 1)[0].strip()
        if first.isdigit() and int(first) < epochs_done and line.endswith("\n"):
            keep.append(line)
    write_text(path, "".join(keep))


def remove_run_dir(run_dir: Path, lock=None) -> None:
    """Removes a finished run's state (and releases its lock), and `.runs/` once it is empty."""
    shutil.rmtree(run_dir, ignore_errors=True)
    if lock is not None:
        lock.release()
    runs = run_dir.parent
    with contextlib.suppress(OSError):  # another run may have just put its lock there
        if runs.exists() and not any(runs.iterdir()):
            runs.rmdir()
