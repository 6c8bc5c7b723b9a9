"""Run a script in an environment with its output bounded where it runs, not in the harness.

What the model's code prints while a patch is applied or the tests run has no limit (a test
that prints 200 MB, a binary dumped to stdout). `bounded_command` sends it to a file beside
the script in the environment (the container) and prints back only the head and the tail of
that file, with one line saying how many bytes were cut in between; so the harness never
holds more than `limit` bytes of it, and the stored logs stay bounded too.

The time limit is applied inside as well (`timeout -s KILL`, which kills the script's whole
process group), so a script killed for time still returns the output it had written.
Only bash and coreutils are needed.
"""

from __future__ import annotations

import hashlib
import re
import shlex

from evalharness.env.base import ExecResult

CUT_MARKER = ">>>>> evalharness: output cut:"
TIMEOUT_MARKER = ">>>>> evalharness: timed out after"
TIMEOUT_EXIT = 124
# Extra seconds the harness waits beyond the script's own limit before giving up on the exec.
GRACE_SECONDS = 60
CUT_LINE = re.compile(rf"^{re.escape(CUT_MARKER)} (\d+) bytes", re.M)
_TIMEOUT_LINE = re.compile(rf"\n{re.escape(TIMEOUT_MARKER)} \d+ s\n?\Z")


def bounded_command(script_path: str, log_path: str, limit: int, timeout: float | None,
                    script: str | None = None) -> str:
    """Bash that runs `bash script_path` (written first from `script` when given) with its
    output in `log_path`, then prints at most `limit` bytes of it (head and tail) and exits
    with the script's exit code, or with TIMEOUT_EXIT after the line `TIMEOUT_MARKER N s`.
    """
    head = max(1, limit // 2)
    tail = max(1, limit - head)
    seconds = None if timeout is None else max(1, int(timeout))
    lines = []
    if script is not None:
        delimiter = "EOF_EVALHARNESS_" + hashlib.sha256(script.encode("utf-8", "replace")).hexdigest()[:16]
        while delimiter in script.splitlines():
            delimiter += "_"
        body = script if script.endswith("\n") else script + "\n"
        lines.append(f"cat > {shlex.quote(script_path)} <<'{delimiter}'\n{body}{delimiter}")
    run = f"bash {shlex.quote(script_path)} > {shlex.quote(log_path)} 2>&1"
    if seconds is not None:
        run = f"timeout -s KILL {seconds} {run}"
    log = shlex.quote(log_path)
    lines += [
        "__eh_start=$SECONDS",
        f"{run} </dev/null",
        "__eh_rc=$?",
        f"__eh_size=$(stat -c %s {log} 2>/dev/null || wc -c < {log})",
        f"if [ \"${{__eh_size:-0}}\" -le {limit} ]; then cat {log}; else",
        f"  head -c {head} {log}",
        f"  printf '\\n%s %d bytes of output cut from the middle (the first %d and the last %d bytes are kept)\\n' "
        f"{shlex.quote(CUT_MARKER)} $((__eh_size - {limit})) {head} {tail}",
        f"  tail -c {tail} {log}",
        "fi",
    ]
    if seconds is not None:
        lines.append(
            f"if (( (__eh_rc == 124 || __eh_rc == 137) && SECONDS - __eh_start >= {seconds} - 1 )); then "
            f"printf '\\n%s %d s\\n' {shlex.quote(TIMEOUT_MARKER)} {seconds}; exit {TIMEOUT_EXIT}; fi"
        )
    lines.append("exit $__eh_rc")
    return "\n".join(lines) + "\n"


def exec_timeout(timeout: float | None) -> float | None:
    """The exec's own limit: the script's, plus time to print the log back."""
    return None if timeout is None else max(1, int(timeout)) + GRACE_SECONDS


def timed_out(result: ExecResult) -> bool:
    """Whether the bounded script was killed for time (inside, or the exec itself)."""
    return result.timed_out or (result.exit_code == TIMEOUT_EXIT and bool(_TIMEOUT_LINE.search(result.output)))


def cut_bytes(output: str) -> int:
    """How many bytes `bounded_command` cut from this output (0: none)."""
    match = CUT_LINE.search(output)
    return int(match.group(1)) if match else 0
