"""An object built on first use: what an idle process should not import until it is needed."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Deferred:
    """Stands for the object `build` makes, made the first time it is needed.

    Anything asked of it that it does not define itself is the real object's (which
    builds it). `built` is the real object if it was made, else None: closing one that
    was never made opens nothing.
    """

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self.built: Any = None

    def real(self) -> Any:
        if self.built is None:
            self.built = self._build()
        return self.built

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_build", "built"):  # copy, pickle and a half-made instance
            raise AttributeError(name)
        return getattr(self.real(), name)
