"""Scratch folders: removed on exit, and after a SIGKILL by the next process that makes one."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

from evalharness.core.scratch import OWNER, UNCLAIMED_GRACE_SECONDS, scratch_dir, sweep


def _make_and_die(parent: str, prefix: str, made: str) -> None:
    with scratch_dir(prefix, parent) as path:
        (path / "context.tar").write_bytes(b"x" * 1000)
        Path(made).write_text(str(path))
        os.kill(os.getpid(), signal.SIGKILL)  # no clean-up runs


def _make_and_hold(parent: str, prefix: str, made: str) -> None:
    with scratch_dir(prefix, parent) as path:
        Path(made).write_text(str(path))
        time.sleep(600)


def _spawn(target, *args) -> multiprocessing.Process:
    proc = multiprocessing.get_context("spawn").Process(target=target, args=args)
    proc.start()
    return proc


def _wait_for(path: Path) -> str:
    deadline = time.monotonic() + 60
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, "the child never made its folder"
        time.sleep(0.02)
    return path.read_text()


def test_a_scratch_folder_is_removed_on_exit_even_on_error(tmp_path):
    try:
        with scratch_dir("eh-test-", tmp_path) as path:
            assert path.is_dir() and path.name.startswith("eh-test-") and (path / OWNER).exists()
            raise ValueError("the build failed")
    except ValueError:
        pass
    assert not path.exists()


def test_the_folder_of_a_killed_process_goes_and_a_live_ones_stays(tmp_path):
    dead = _spawn(_make_and_die, str(tmp_path), "eh-test-", str(tmp_path / "dead.txt"))
    dead.join(60)
    assert dead.exitcode == -signal.SIGKILL
    left = Path(_wait_for(tmp_path / "dead.txt"))
    assert left.is_dir()  # the SIGKILL left it behind
    alive = _spawn(_make_and_hold, str(tmp_path), "eh-test-", str(tmp_path / "alive.txt"))
    try:
        held = Path(_wait_for(tmp_path / "alive.txt"))
        with scratch_dir("eh-test-", tmp_path) as mine:  # the next one sweeps
            assert not left.exists()  # its owner is dead: removed
            assert held.is_dir()  # its owner is alive: kept
            assert mine.is_dir()
        assert sweep("eh-test-", tmp_path) == 0  # a sweep never takes a folder in use
        assert held.is_dir()
    finally:
        alive.kill()
        alive.join(60)
    assert sweep("eh-test-", tmp_path) == 1 and not held.exists()  # dead now: the next sweep takes it


def test_a_folder_without_an_owner_goes_only_when_old(tmp_path):
    young, old = tmp_path / "eh-test-young", tmp_path / "eh-test-old"
    young.mkdir()
    old.mkdir()
    past = time.time() - UNCLAIMED_GRACE_SECONDS - 60
    os.utime(old, (past, past))
    other = tmp_path / "other-prefix"
    other.mkdir()
    os.utime(other, (past, past))
    assert sweep("eh-test-", tmp_path) == 1
    assert young.exists() and not old.exists() and other.exists()
