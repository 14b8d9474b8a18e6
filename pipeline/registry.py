"""One small registry per pluggable kind (backends, samplers, transforms, annotation formats, ...).

Modelled on timm's `register_model`/`create_model` and torchvision's `get_model`: a config names a part
(`backend: torchcodec`), the registry builds it, duplicate names raise, and an unknown name lists what
is allowed so that a typo in a YAML file is a one-line fix.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from pipeline.errors import ConfigError, UnknownNameError

T = TypeVar("T")

# Every registry created, by kind, so that `vap list` can print them all.
ALL_REGISTRIES: dict[str, Registry[Any]] = {}


class Registry(Generic[T]):
    """A name -> factory mapping for one kind of part."""

    def __init__(self, kind: str) -> None:
        if kind in ALL_REGISTRIES:
            raise ValueError(f"a registry of kind {kind!r} exists already")
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._docs: dict[str, str] = {}
        ALL_REGISTRIES[kind] = self

    def register(self, name: str, *, doc: str | None = None) -> Callable[[T], T]:
        """Decorator: `@BACKENDS.register("pyav")` above a class or function."""

        def add(obj: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered already")
            self._entries[name] = obj
            first_line = (doc or getattr(obj, "__doc__", None) or "").strip().splitlines()
            self._docs[name] = first_line[0] if first_line else ""
            return obj

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            allowed = ", ".join(sorted(self._entries)) or "(none registered)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; allowed: {allowed}") from None

    def build(self, name: str, /, **kwargs: Any) -> Any:
        """Call the registered factory with keyword arguments from a config; arguments it does not take
        (a misspelt key, a `class_path`) are one line naming them and the ones it takes."""
        factory = self.get(name)
        try:
            signature = inspect.signature(factory)  # type: ignore[arg-type]
        except (TypeError, ValueError):  # no signature to check against: let the call say
            return factory(**kwargs)  # type: ignore[operator]
        try:
            signature.bind(**kwargs)
        except TypeError as e:
            takes = [p.name for p in signature.parameters.values() if p.kind is not p.VAR_POSITIONAL]
            raise ConfigError(f"{self.kind} {name!r}: {e} (it takes: {', '.join(takes) or 'nothing'})") from None
        return factory(**kwargs)  # type: ignore[operator]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def describe(self, name: str) -> str:
        return self._docs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
