"""Errors that the CLI shows as one clear line instead of a traceback."""


class UserError(Exception):
    """Bad input from the user (a file, a flag, a dataset row): say what and where."""


class EnvBuildError(Exception):
    """An image could not be built; carries the build log so it can be stored."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


class InfrastructureError(Exception):
    """Docker failed under an instance, not the instance itself: the daemon went away or was
    restarted, a container was killed or removed, an image vanished, the disk filled up.

    `kind` names which ("daemon", "container_exited", "container_removed", "image_removed",
    "disk_full", "docker"); `retry` says whether trying the instance again can help (the
    pipeline retries such an instance, boundedly: see evalharness/pipeline.py).
    """

    def __init__(self, message: str, *, kind: str = "docker", retry: bool = False):
        super().__init__(message)
        self.kind = kind
        self.retry = retry


def json_error_text(exc, *, with_line: bool = True) -> str:
    """`json.JSONDecodeError` as "<what>: line L column C": the position kept (its `msg` alone loses
    it), and no word doubled (a msg like "Unterminated string starting at" ends in a preposition)."""
    where = f"line {exc.lineno} column {exc.colno}" if with_line else f"column {exc.colno}"
    return f"{exc.msg}: {where}"
