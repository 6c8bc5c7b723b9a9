"""Where a task's repository comes from, ending as a git bundle for the image build.

Sources are tried in order; each turns (repo, commit) into a local bare repository
holding that commit:
  * `BuiltinRepos`  - the repos in tasks/repos/, committed deterministically (same hash every time);
  * `MirrorRepos`   - a folder of bare mirrors (owner__name.git) for air-gapped sites;
  * `GitHubRepos`   - a bare clone from GitHub, cached.
The bundle carries only history up to base_commit, so an agent never sees the future.
Sources are only ever read: the ref a bundle needs is written into a throwaway overlay
repository that borrows the source's objects (git alternates), so read-only mirrors and
mirrors without a `config` file (as the `fetch` tool leaves them) work unchanged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Protocol, Sequence

from evalharness.core.errors import EnvBuildError
from evalharness.core.scratch import scratch_dir

# Fixed identity and dates: the built-in repos hash the same on every machine.
DETERMINISTIC_GIT_ENV = {
    "GIT_AUTHOR_NAME": "evalharness",
    "GIT_AUTHOR_EMAIL": "tasks@evalharness.invalid",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000",
    "GIT_COMMITTER_NAME": "evalharness",
    "GIT_COMMITTER_EMAIL": "tasks@evalharness.invalid",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(*args: str, cwd: Path | str | None = None, env: dict[str, str] | None = None, input: str | None = None) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        input=input,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0:
        raise EnvBuildError(f"git {' '.join(args[:3])} failed: {proc.stderr.strip()}", proc.stderr)
    return proc.stdout.strip()


def has_commit(git_dir: Path, commit: str) -> bool:
    proc = subprocess.run(
        ["git", "--git-dir", str(git_dir), "cat-file", "-e", f"{commit}^{{commit}}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc.returncode == 0


class RepoSource(Protocol):
    def git_dir(self, repo: str, commit: str) -> Path | None:
        """A local bare repository holding `commit`, or None if this source lacks the repo."""
        ...

    def has_locally(self, repo: str, commit: str) -> bool:
        """Whether `commit` is available without the network (no fetch, no build)."""
        ...


def _cache_lock(cache_dir: Path):
    """One writer at a time for a repo cache: threads of this process and other processes
    alike (the Ray workers of one node share its cache)."""
    from filelock import FileLock

    cache_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(cache_dir / ".lock")


class BuiltinRepos:
    """The project's own small repositories, stored as source trees under tasks/repos/."""

    def __init__(self, repos_dir: Path, cache_dir: Path):
        self.repos_dir = Path(repos_dir)
        self.cache_dir = Path(cache_dir) / "builtin-repos"

    def source_dir(self, repo: str) -> Path | None:
        owner, _, name = repo.partition("/")
        path = self.repos_dir / name
        return path if owner == "evalharness" and path.is_dir() else None

    def has_locally(self, repo: str, commit: str) -> bool:
        return self.source_dir(repo) is not None

    def git_dir(self, repo: str, commit: str) -> Path | None:
        source = self.source_dir(repo)
        if source is None:
            return None
        with _cache_lock(self.cache_dir):
            target = self.cache_dir / f"{repo.replace('/', '__')}.git"
            if target.exists() and has_commit(target, commit):
                return target
            with scratch_dir("materialize-", self.cache_dir) as work:
                made = materialize(source, work)
                if made["commit"] != commit:
                    raise EnvBuildError(
                        f"built-in repo {repo} hashes to {made['commit']}, but the task says {commit}: "
                        "tasks/repos changed without updating the tasks file"
                    )
                shutil.rmtree(target, ignore_errors=True)
                os.replace(made["git_dir"], target)
            return target


def materialize(source: Path, work: Path) -> dict[str, str]:
    """Commit the tree at `source` into a new bare repo under the empty folder `work`,
    deterministically; returns its commit and where the bare repo is."""
    tree = work / "tree"
    shutil.copytree(source, tree, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache"))
    env = dict(DETERMINISTIC_GIT_ENV)
    git("init", "-q", "-b", "main", cwd=tree, env=env)
    git("add", "-A", cwd=tree, env=env)
    git("commit", "-q", "--no-gpg-sign", "-m", "Initial import", cwd=tree, env=env)
    commit = git("rev-parse", "HEAD", cwd=tree, env=env)
    bare = work / "repo.git"
    git("clone", "-q", "--bare", str(tree), str(bare), env=env)
    shutil.rmtree(tree)
    return {"commit": commit, "git_dir": str(bare)}


def builtin_commit(source: Path) -> str:
    """The commit hash the built-in repo at `source` materializes to."""
    with scratch_dir("evalharness-commit-") as work:
        return materialize(Path(source), work)["commit"]


class MirrorRepos:
    """A folder of bare mirrors: DIR/owner__name.git or DIR/owner/name.git."""

    def __init__(self, mirror_dir: Path):
        self.mirror_dir = Path(mirror_dir)

    def _candidate(self, repo: str) -> Path | None:
        owner, _, name = repo.partition("/")
        for candidate in (
            self.mirror_dir / f"{owner}__{name}.git",
            self.mirror_dir / owner / f"{name}.git",
            self.mirror_dir / owner / name,
        ):
            if candidate.exists():  # a symlink to a bare repo elsewhere is fine
                return candidate
        return None

    def has_locally(self, repo: str, commit: str) -> bool:
        candidate = self._candidate(repo)
        return candidate is not None and has_commit(candidate, commit)

    def git_dir(self, repo: str, commit: str) -> Path | None:
        candidate = self._candidate(repo)
        if candidate is not None and not has_commit(candidate, commit):
            raise EnvBuildError(f"mirror {candidate} lacks commit {commit} of {repo}")
        return candidate


class GitHubRepos:
    """A bare clone from GitHub, kept in the cache and fetched again when a commit is missing."""

    def __init__(self, cache_dir: Path, base_url: str = "https://github.com"):
        self.cache_dir = Path(cache_dir) / "github"
        self.base_url = base_url.rstrip("/")

    def has_locally(self, repo: str, commit: str) -> bool:
        target = self.cache_dir / f"{repo.replace('/', '__')}.git"
        return target.exists() and has_commit(target, commit)

    def git_dir(self, repo: str, commit: str) -> Path | None:
        target = self.cache_dir / f"{repo.replace('/', '__')}.git"
        url = f"{self.base_url}/{repo}.git"
        with _cache_lock(self.cache_dir):
            try:
                if not target.exists():
                    with scratch_dir("clone-", self.cache_dir) as work:
                        git("clone", "-q", "--bare", url, str(work / "repo.git"))
                        os.replace(work / "repo.git", target)
                elif not has_commit(target, commit):
                    git("--git-dir", str(target), "fetch", "-q", "origin", "+refs/heads/*:refs/heads/*")
            except EnvBuildError as exc:
                raise EnvBuildError(
                    f"could not fetch {url} ({exc}); offline, pass --repo-mirror DIR with a bare mirror "
                    f"of {repo}",
                    exc.log,
                ) from None
        if not has_commit(target, commit):
            raise EnvBuildError(f"{repo} has no commit {commit}")
        return target


def bundle_commit(sources: Sequence[RepoSource], repo: str, commit: str, dest: Path) -> Path:
    """Write a git bundle of `commit` and its ancestors only to `dest`; the source is not written to."""
    for source in sources:
        git_dir = source.git_dir(repo, commit)
        if git_dir is not None:
            break
    else:
        raise EnvBuildError(f"no repository source has {repo} (try --repo-mirror DIR)")
    # `git bundle create` needs a ref naming the commit. Writing one into the source would
    # fail on a read-only mirror (and change a user's repository), so the ref lives in an
    # empty repository next to the bundle that borrows the source's objects.
    # Tags that point into the commit's history travel too: setuptools_scm (pytest) derives
    # the package version from them, and a version of 0.1.dev fails pytest's minversion.
    objects = _objects_dir(Path(git_dir))
    ref = f"refs/evalharness/{commit}"
    tags = git("--git-dir", str(git_dir), "for-each-ref", "--merged", commit,
               "--format=create %(refname) %(objectname)", "refs/tags")
    with scratch_dir("overlay-", Path(dest).parent) as tmp:
        overlay = tmp / "overlay.git"
        git("init", "-q", "--bare", str(overlay))
        (overlay / "objects" / "info" / "alternates").write_text(f"{objects}\n")
        git("--git-dir", str(overlay), "update-ref", "--stdin",
            input=f"create {ref} {commit}\n" + (tags + "\n" if tags else ""))
        git("--git-dir", str(overlay), "bundle", "create", str(dest), ref, *(["--tags"] if tags else []))
    return dest


def _objects_dir(git_dir: Path) -> Path:
    """The object store of a bare repository, or of a work tree's .git folder."""
    for candidate in (git_dir / "objects", git_dir / ".git" / "objects"):
        if candidate.is_dir():
            return candidate.resolve()
    raise EnvBuildError(f"{git_dir} is not a git repository (no objects folder)")


def locate_offline(sources: Sequence[RepoSource], repo: str, commit: str) -> bool:
    """Whether some source can provide `commit` of `repo` without the network."""
    return any(source.has_locally(repo, commit) for source in sources)
