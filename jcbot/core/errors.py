"""Errors the core raises: each names what was wrong and what was expected."""
from __future__ import annotations


class ProcedureError(ValueError):
    """A request the rules of procedure refuse; nothing was changed."""


class RosterError(ProcedureError):
    """A change to the committee's roster that would break an invariant."""


class AssertionRefused(ProcedureError):
    """An assertion that may not be recorded (non-member, before distribution...)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field  # the part of the input at fault ("opinion"), so a form can mark it


class DistributionRefused(ProcedureError):
    """A distribution the rules refuse (a co-chair seat is vacant...)."""


class RulesError(ValueError):
    """A rules file that cannot be used: names the file, the key and what was expected."""

    def __init__(self, source: str, key: str, problem: str):
        self.source, self.key, self.problem = source, key, problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")
