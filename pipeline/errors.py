"""Errors a user sees: one line naming the file and the reason."""

from __future__ import annotations

import os
from os import PathLike


def display_path(path: str | PathLike[str]) -> str:
    """A path as valid UTF-8 text for records and messages: bytes of the name that are not UTF-8 (an
    ordinary Linux name can hold any) are written `\\xNN`. `path_bytes_hex` keeps what finds it again."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def path_bytes_hex(path: str | PathLike[str]) -> str | None:
    """The name's bytes in hex when `display_path` had to escape some (`os.fsdecode(bytes.fromhex(h))`
    gives the path back), else None."""
    raw = os.fsencode(path)
    return None if raw.decode("utf-8", "backslashreplace") == raw.decode("utf-8", "surrogateescape") else raw.hex()


def printable(text: object) -> str:
    """Text safe for one console line: control characters (a newline in a file name could forge a line)
    and undecodable bytes shown escaped, as Python's repr shows them."""
    s = str(text)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


class VideoError(RuntimeError):
    """A video that cannot be opened or decoded. `str()` is `<path>: <reason>`, one line."""

    def __init__(self, path: str | PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = " ".join(str(reason).split())  # one line, whatever the decoder printed
        super().__init__(f"{printable(display_path(self.path))}: {self.reason}")


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


def one_line(e: BaseException) -> str:
    """A library's own exception (a decoder's, mostly) as the one-line reason a record or error line shows."""
    return " ".join(f"{type(e).__name__}: {e}".split())
