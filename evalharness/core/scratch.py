"""Scratch folders that a killed process cannot leak.

A scratch folder (an image build's context, a debootstrap root, a repo being cloned) holds a
lock file, locked by its process for as long as the folder is in use. The kernel drops the
lock when the process dies, however it dies, so the next `scratch_dir` with the same prefix
in the same place removes the folders whose lock is free: a SIGKILL in the middle of a
build leaves its folder only until the next build.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

OWNER = ".evalharness-owner"  # the lock file, in each scratch folder
UNCLAIMED_GRACE_SECONDS = 3600  # a folder with no lock file yet is being made, unless it is this old


@contextmanager
def scratch_dir(prefix: str, parent: Path | str | None = None) -> Iterator[Path]:
    """A new folder `<parent or the temp dir>/<prefix>XXXX`, removed on exit; first removes the
    folders with this prefix there that a dead process left."""
    if parent is not None:
        Path(parent).mkdir(parents=True, exist_ok=True)
    sweep(prefix, parent)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    # Locked before it gets its name, so a sweep never sees the lock file unlocked while we live.
    claim = path / f"{OWNER}.new"
    fd = os.open(claim, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(claim, path / OWNER)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def sweep(prefix: str, parent: Path | str | None = None) -> int:
    """Remove the scratch folders `<parent>/<prefix>*` whose owner is gone; how many."""
    root = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    removed = 0
    for path in root.glob(f"{prefix}*"):
        if not path.is_dir() or path.is_symlink():
            continue
        try:
            fd = os.open(path / OWNER, os.O_RDONLY)
        except FileNotFoundError:  # being made right now, or made before locks (or by hand): only when old
            try:
                stale = time.time() - path.stat().st_mtime > UNCLAIMED_GRACE_SECONDS
            except FileNotFoundError:
                continue
            if stale:
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # its process is alive and using it
            os.close(fd)
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)  # under the lock: a live owner can't be mistaken
            removed += 1
        finally:
            os.close(fd)
    return removed
