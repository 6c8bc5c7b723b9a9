"""Errors that the CLI shows as one clear line instead of a traceback."""


class UserError(Exception):
    """Bad input from the user (a file, a flag, a dataset row): say what and where."""


class EnvBuildError(Exception):
    """An image could not be built; carries the build log so it can be stored."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log
