"""Errors a user sees: one line naming the file and the reason."""

from __future__ import annotations

from os import PathLike


class VideoError(RuntimeError):
    """A video that cannot be opened or decoded. `str()` is `<path>: <reason>`, one line."""

    def __init__(self, path: str | PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = " ".join(str(reason).split())  # one line, whatever the decoder printed
        super().__init__(f"{self.path}: {self.reason}")


class AnnotationError(ValueError):
    """A malformed annotation file. `str()` is `<path>:<line>: <reason>`."""

    def __init__(self, path: str | PathLike[str], reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class ConfigError(ValueError):
    """A configuration value that cannot work (an unknown name, a value out of range, weights that are
    not here). The message names the key and, where there is a list, the allowed values."""


class UnknownNameError(ConfigError, KeyError):
    """A name that is not in a registry. A KeyError too, for callers that look names up."""
