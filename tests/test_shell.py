"""The persistent shell session, against a local bash and against a real container.

Each test runs twice: on a LocalEnvironment (no Docker) and, marked `docker`, in a
container of a built-in task's instance image (built once per session by the project's
ImageBuilder, the same image the end-to-end tests use).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from pathlib import Path

import pytest

from evalharness.env.docker import DockerEnvironment, running_container
from evalharness.tasks.datasets import default_tasks_dir, load_tasks
from evalharness.env.local import LocalEnvironment
from evalharness.core.errors import UserError
from evalharness.env.images import BuildConfig, ImageBuilder
from evalharness.tasks.repos import BuiltinRepos
from evalharness.env.local import LocalTransport
from evalharness.env.shell import OpeningShell, ShellError, ShellSession, open_shell
from evalharness.tasks.specs import SpecRegistry

BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]


@pytest.fixture(scope="module")
def container_env(docker_client, cache_dir):
    task = load_tasks("builtin")[0]
    tasks_dir = default_tasks_dir()
    builder = ImageBuilder(docker_client, BuildConfig(cache_dir=cache_dir),
                           [BuiltinRepos(tasks_dir / "repos", cache_dir)])
    spec = SpecRegistry.from_files([tasks_dir / "specs.toml"]).get(task.repo, task.version)
    image = builder.instance_image(task, spec)
    with running_container(docker_client, image, run_id="shell-tests", instance_id=task.instance_id,
                           purpose="test") as env:
        yield env


@pytest.fixture(params=BACKENDS)
def env(request, tmp_path):
    if request.param == "local":
        return LocalEnvironment(tmp_path)
    return request.getfixturevalue("container_env")


@pytest.fixture
def shell(env):
    with open_shell(env) as session:
        yield session


def _token_sleep() -> str:
    """A `sleep` with an argument no other process has, so a test can find exactly its own."""
    return f"sleep {1000 + secrets.randbelow(10**6)}.{secrets.randbelow(10**6):06d}"


def _running(env, argv: str) -> bool:
    """Is a process with exactly this command line alive (not a zombie) in `env`?"""
    if isinstance(env, DockerEnvironment):
        probe = (f"for f in /proc/[0-9]*/cmdline; do c=$(tr '\\0' ' ' < $f 2>/dev/null); "
                 f"[[ $c == '{argv} ' ]] && echo found; done; true")
        return "found" in env.exec(probe).output
    wanted = (argv.replace(" ", "\0") + "\0").encode()
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if path.read_bytes() == wanted:
                return True
        except OSError:
            pass
    return False


def _gone(env, argv: str) -> bool:
    """Killing is asynchronous: give the process a moment to disappear."""
    return _eventually(lambda: not _running(env, argv))


def _started(env, argv: str) -> bool:
    """A background job may not have exec'd yet when the command that started it returns."""
    return _eventually(lambda: _running(env, argv))


def _eventually(check) -> bool:
    for _ in range(100):
        if check():
            return True
        time.sleep(0.05)
    return False


# ---- state and output ---------------------------------------------------------------------------
@pytest.mark.parametrize("env", BACKENDS, indirect=True)
def test_cwd_env_and_functions_persist(shell, env):
    assert shell.run("pwd").output == env.workdir + "\n"
    assert shell.run("mkdir -p sub/dir && cd sub/dir && export GREETING='hi there'; greet() { echo \"$1!\"; }").ok
    result = shell.run('pwd; echo "$GREETING"; greet you; bash -c \'echo "$GREETING"\'')
    assert result.output == f"{env.workdir}/sub/dir\nhi there\nyou!\nhi there\n"
    assert result.exit_code == 0 and not result.timed_out
    assert shell.run("echo $PAGER $GIT_PAGER $TERM").output == "cat cat dumb\n"


@pytest.mark.parametrize("env", BACKENDS, indirect=True)
def test_exit_codes_and_stderr_merged_in_order(shell):
    result = shell.run("echo out; echo err >&2; echo out2; (exit 7)")
    assert result.exit_code == 7
    assert result.output == "out\nerr\nout2\n"
    assert shell.run("false").exit_code == 1
    missing = shell.run("no-such-command-xyz")
    assert missing.exit_code == 127 and "no-such-command-xyz" in missing.output
    syntax = shell.run("echo 'unterminated")
    assert syntax.exit_code == 2 and "unexpected EOF" in syntax.output
    assert shell.run("for i in 1 2; do").exit_code == 2
    assert shell.run("echo still here").output == "still here\n"


@pytest.mark.parametrize("env", BACKENDS, indirect=True)
def test_output_is_returned_exactly(shell):
    assert shell.run("printf abc").output == "abc"
    assert shell.run("printf 'a\\n\\n'").output == "a\n\n"
    assert shell.run("true").output == ""
    assert shell.run("").output == ""
    assert shell.run("echo 'héllo wörld ✓'; printf 'tab\\there\\r\\n'").output == "héllo wörld ✓\ntab\there\r\n"
    multi = "cat <<'EOF'\nline 1 with 'quotes' and \"double\" and $HOME\n\\back\\slash\nEOF"
    assert shell.run(multi).output == "line 1 with 'quotes' and \"double\" and $HOME\n\\back\\slash\n"


@pytest.mark.parametrize("env", BACKENDS, indirect=True)
def test_sentinel_lookalikes_and_tracing_do_not_fool_the_reader(shell):
    fake = f"__EHSH_{secrets.token_hex(12)}"
    result = shell.run(f"printf '\\n{fake} 1 0\\n{fake} 99 5\\n'; echo end")
    assert result.output == f"\n{fake} 1 0\n{fake} 99 5\nend\n"
    source = shell.run("declare -f __eh_done")  # the function that prints the real marker
    assert source.exit_code == 0 and "__eh_done" in source.output
    traced = shell.run("set -xv; echo traced; set +xv")
    assert traced.exit_code == 0 and "traced" in traced.output
    assert shell.run("echo next").output == "next\n"


@pytest.mark.parametrize("env", BACKENDS, indirect=True)
def test_binary_and_invalid_utf8_output(shell):
    result = shell.run("printf 'a\\xff\\xfeb\\x00c\\n'")
    assert result.output == "a\ufffd\ufffdb\x00c\n"
    assert shell.run("head -c 3000 /dev/urandom | wc -c").output.strip() == "3000"
    assert shell.run("head -c 100000 /dev/urandom >/dev/stderr; echo done").output.endswith("done\n")


@pytest.mark.parametrize("env", BACKENDS, indirect=True)
def test_huge_output_keeps_head_and_tail_and_says_what_was_cut(env):
    limit = 64 * 1024
    with open_shell(env, max_output_bytes=limit) as shell:
        result = shell.run("seq 1 3000000", timeout=120)  # 22,888,896 bytes
        assert result.exit_code == 0
        head, marker, tail = result.output.partition("\n[... ")
        assert marker, "no note about the cut"
        cut = int(tail.split(" bytes of output cut ...]\n")[0])
        tail = tail.split(" bytes of output cut ...]\n")[1]
        assert head.startswith("1\n2\n3\n") and tail.endswith("2999999\n3000000\n")
        assert len(head.encode()) + cut + len(tail.encode()) == 22_888_896
        assert len(result.output) < limit + 100
        assert shell.run("echo after").output == "after\n"


@pytest.mark.parametrize("env", BACKENDS, indirect=True)
def test_long_commands_are_sent_whole(shell):
    payload = secrets.token_hex(150_000)  # 300 kB of command text
    result = shell.run(f"x='{payload}'; echo ${{#x}}; printf %s \"$x\" | md5sum")
    assert result.output.split()[:2] == ["300000", hashlib.md5(payload.encode()).hexdigest()]


# ---- what must not hang ---------------------------------------------------------------------------
@pytest.mark.parametrize("env", BACKENDS, indirect=True)
def test_commands_reading_stdin_get_end_of_file(shell):
    assert shell.run("cat", timeout=10).output == ""
    result = shell.run("read x; echo \"read=$? x=$x\"; head -n 1; echo done", timeout=10)
    assert not result.timed_out and result.output == "read=1 x=\ndone\n"


@pytest.mark.parametrize("env", BACKENDS, indirect=True)
def test_background_process_does_not_block_and_keeps_running(shell, env):
    sleeper = _token_sleep()
    result = shell.run(f"{sleeper} & echo started", timeout=10)
    assert not result.timed_out and result.output == "started\n"
    assert shell.run("echo next", timeout=10).output == "next\n"
    assert _started(env, sleeper)
    shell.close()
    assert _gone(env, sleeper)


# ---- timeouts ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", BACKENDS, indirect=True)
def test_timeout_kills_the_command_and_the_session_survives(shell, env):
    earlier = _token_sleep()
    assert shell.run(f"cd / && export KEEP=yes; {earlier} &").ok
    assert _started(env, earlier)
    time.sleep(0.3)  # the background job must be older than the command that times out
    sleeper = _token_sleep()
    result = shell.run(f"echo before; {sleeper}; echo unreachable-by-timeout", timeout=1)
    assert result.timed_out and result.exit_code == 124
    assert result.output.startswith("before\n")
    assert _gone(env, sleeper)
    assert _running(env, earlier), "a background job of an earlier command was killed"
    assert shell.run("pwd; echo $KEEP").output == "/\nyes\n"
    # a loop of the shell itself (no child process to kill) is broken by the USR1 trap
    looped = shell.run("n=0; while :; do n=$((n+1)); done", timeout=0.5)
    assert looped.timed_out and looped.exit_code == 124
    assert shell.run("echo $KEEP; [ $n -gt 0 ] && echo counted").output == "yes\ncounted\n"
    # pipelines and command substitutions inside a function
    nested = shell.run(f"f() {{ x=$({sleeper} | cat); }}; f", timeout=0.5)
    assert nested.timed_out
    assert _gone(env, sleeper)
    assert shell.run("echo ok").output == "ok\n"
    assert shell.restarts == 0


def test_unrecoverable_timeout_starts_a_fresh_session(tmp_path):
    with ShellSession(lambda cwd: LocalTransport(cwd, dict(os.environ)), str(tmp_path), kill_rounds=3) as shell:
        assert shell.run("cd / && export GONE=1").ok
        result = shell.run("exec >/dev/null; echo hidden", timeout=0.5)  # the sentinel can never come back
        assert result.timed_out and result.exit_code == 124
        assert "new one in" in result.output
        assert shell.run("pwd; echo \"[$GONE]\"").output == f"{tmp_path}\n[]\n"
        assert shell.restarts == 1


# ---- the shell ending -------------------------------------------------------------------------------
@pytest.mark.parametrize("env", BACKENDS, indirect=True)
def test_exit_restarts_the_session(shell, env):
    sleeper = _token_sleep()
    assert shell.run(f"cd / && export LOST=1; {sleeper} &").ok
    assert _started(env, sleeper)
    result = shell.run("echo bye; exit 3")
    assert (result.exit_code, result.output, result.timed_out) == (3, "bye\n", False)
    assert _gone(env, sleeper), "a background job of the ended shell was left running"
    assert shell.run('pwd; echo "[$LOST]" $PAGER').output == f"{env.workdir}\n[] cat\n"
    assert shell.restarts == 1
    assert shell.run("kill $$").exit_code == 143
    assert shell.run("kill -9 $$").exit_code == 137
    assert shell.run("exec true").exit_code == 0
    assert shell.run("echo alive").output == "alive\n"
    assert shell.restarts == 4
    # killed between commands, by its own background job: the next command runs in a fresh one
    assert shell.run("(sleep 0.2; kill -9 $$) >/dev/null 2>&1 &").ok
    time.sleep(1)
    assert shell.run("echo fresh").output == "fresh\n"
    assert shell.run("(sleep 0.2; kill $$) >/dev/null 2>&1 &").ok
    time.sleep(1)
    assert shell.run("echo fresh again").output == "fresh again\n"
    assert shell.restarts == 6


@pytest.mark.parametrize("env", BACKENDS, indirect=True)
def test_close_is_idempotent_and_leaves_no_process(env):
    shell = open_shell(env)
    direct, detached, orphan = _token_sleep(), _token_sleep(), _token_sleep()
    assert shell.run(f"{direct} & setsid {detached} & ({orphan} &) ; echo ok").output == "ok\n"
    pid = shell.pid
    assert all(_started(env, s) for s in (direct, detached, orphan))
    assert pid in _pids_of(env, "bash --noprofile --norc")
    shell.close()
    shell.close()
    assert all(_gone(env, s) for s in (direct, detached, orphan))
    assert pid not in _pids_of(env, "bash --noprofile --norc")
    with pytest.raises(ShellError):
        shell.run("true")


def _pids_of(env, argv: str) -> set[int]:
    if isinstance(env, DockerEnvironment):
        out = env.exec(f"for f in /proc/[0-9]*/cmdline; do [[ $(tr '\\0' ' ' < $f 2>/dev/null) == '{argv} ' ]] "
                       "&& echo ${f//[!0-9]/}; done; true").output
        return {int(x) for x in out.split()}
    wanted = (argv.replace(" ", "\0") + "\0").encode()
    pids = set()
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if path.read_bytes() == wanted:
                pids.add(int(path.parent.name))
        except OSError:
            pass
    return pids


# ---- opening ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", BACKENDS, indirect=True)
def test_open_options_and_environment_method(env):
    with open_shell(env, workdir="/tmp", env_vars={"ODD": "a b'c\"$d", "PAGER": "more"}) as shell:
        assert shell.run('pwd; echo "$ODD"; echo $PAGER').output == "/tmp\na b'c\"$d\nmore\n"
    with env.open_shell() as shell:
        assert shell.run("pwd").output == env.workdir + "\n"
    with open_shell(env) as one, open_shell(env) as two:  # sessions side by side are independent
        one.run("cd /tmp")
        assert two.run("pwd").output == env.workdir + "\n"
        assert one.run("pwd").output == "/tmp\n"


def test_bad_input_is_refused(tmp_path):
    env = LocalEnvironment(tmp_path)
    with pytest.raises(UserError, match="not a valid identifier"):
        open_shell(env, env_vars={"BAD-NAME": "1"})
    with open_shell(env) as shell:
        with pytest.raises(ValueError, match="NUL"):
            shell.run("echo a\0b")
    with pytest.raises(ShellError, match="cannot start bash"):
        open_shell(LocalEnvironment(tmp_path / "missing"))
    with pytest.raises(TypeError):
        open_shell(object())


@pytest.mark.docker
def test_missing_workdir_in_container_is_a_shell_error(container_env):
    with pytest.raises(ShellError):
        open_shell(container_env, workdir="/no/such/dir")


class _TrickleTransport(LocalTransport):
    """A real local bash whose output is read a few bytes at a time: sentinels split anywhere."""

    def __init__(self, workdir: str, environ: dict[str, str]):
        super().__init__(workdir, environ)
        self._sizes = [1, 2, 3, 5, 7, 11]
        self._n = 0

    def recv(self) -> bytes | None:
        self._n += 1
        return os.read(self.fileno(), self._sizes[self._n % len(self._sizes)]) or None


def test_sentinel_split_across_reads_and_cut_boundaries(tmp_path):
    start = lambda cwd: _TrickleTransport(cwd, dict(os.environ))  # noqa: E731
    with ShellSession(start, str(tmp_path), max_output_bytes=1024) as shell:
        assert shell.run("printf abc").output == "abc"
        for size in (1000, 1023, 1024, 1025, 3000):
            result = shell.run(f"head -c {size} /dev/zero | tr '\\0' x")
            if size <= 1024:
                assert result.output == "x" * size
            else:
                head, _, rest = result.output.partition("\n[... ")
                cut, _, tail = rest.partition(" bytes of output cut ...]\n")
                assert head == "x" * 512 and tail == "x" * 512 and int(cut) == size - 1024
        assert shell.run("echo $((6 * 7))").output == "42\n"


def test_a_session_opened_in_the_background(env, tmp_path):
    """OpeningShell: the session opens in a thread while the caller does other work; run waits for it."""
    gate = threading.Event()
    opened: list[ShellSession] = []

    def slow_open() -> ShellSession:
        assert gate.wait(30)  # the opening cannot finish before the caller says so
        opened.append(open_shell(env))
        return opened[0]

    shell = OpeningShell(slow_open)
    assert not opened  # the constructor returned while the opening was still under way
    gate.set()
    with shell:
        assert shell.run("cd /tmp && export EH_X=1").exit_code == 0
        result = shell.run("pwd; echo $EH_X")
        assert result.output.split() == ["/tmp", "1"]  # one session: state carries over
        pid = shell.session().pid
    assert opened[0]._closed and pid > 0  # closing closed the session it opened


def test_a_failed_background_opening_is_raised_by_the_first_command(tmp_path):
    shell = OpeningShell(LocalEnvironment(tmp_path / "missing").open_shell)
    with pytest.raises(ShellError, match="cannot start bash"):
        shell.run("true")
    with pytest.raises(ShellError, match="cannot start bash"):  # and by every one after it
        shell.run("true")
    shell.close()  # nothing was opened: nothing to close, no error


def test_closing_a_background_opening_that_was_never_used(tmp_path):
    with OpeningShell(LocalEnvironment(tmp_path).open_shell) as shell:
        pass
    assert shell.session()._closed
