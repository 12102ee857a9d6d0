"""Recording members' assertions, from any channel, once per piece of evidence."""
from __future__ import annotations

from datetime import datetime

from jcbot.services.context import ServiceContext
from jcbot.services.intake import Case, Recorded, take
from jcbot.services.intake.rules import CHANNELS, DIRECT, as_error

__all__ = ["CHANNELS", "Recorded", "record_assertion"]


def record_assertion(
    ctx: ServiceContext, ref: str, member: str, position: str, *, channel: str, evidence_key: str, actor: str,
    opinion: str | None = None, version: int | None = None, at: datetime | None = None, note: str | None = None,
) -> Recorded:
    """Record `member`'s assertion on proposal `ref` (its current version unless `version`).

    The intake of an input that names its member and proposal (a letter, the CLI, the
    web), through the rules of `intake.rules.DIRECT`. Refused (ServiceError, or the core's
    ProcedureError; nothing written) for non-members, a closed or superseded version, a
    negative without opinion. The same evidence key twice is recorded once. `at`
    defaults to now; only a letter or an email may carry an earlier instant.
    """
    opinion = opinion.strip() if opinion and opinion.strip() else None
    out = take(ctx, actor, DIRECT, lambda tx: Case(tx, channel, evidence_key, position, opinion, at, note,
                                                   ref=ref, version_no=version, handle=member))
    if out.outcome == "refused":
        assert out.stop is not None
        raise as_error(out.stop)
    assert out.recorded is not None
    return out.recorded
