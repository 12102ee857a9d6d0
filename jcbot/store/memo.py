"""A transaction's memo: what it read and wrote, kept to skip reading it again.

Valid only while nothing else can change what it holds (the transaction holds the
locks that guard it), so it is forgotten at any rollback, a savepoint's included
(what the savepoint wrote is gone), and at the end of the outermost transaction
(another writer may change anything after it). A released savepoint keeps it.
Users: the audit chain's head (store.audit), each version's assertion rows and items
in a group commit (services.intake.case).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import event, orm

_MEMO = "jcbot.memo"


def memo(session: orm.Session) -> dict[str, Any]:
    """What the session's transaction remembers of its own reads and writes (see the module)."""
    return session.info.setdefault(_MEMO, {})


# On SQLAlchemy's Session: sqlmodel's and any other subclass alike.
@event.listens_for(orm.Session, "after_soft_rollback")
def _forget_at_rollback(session: orm.Session, previous_transaction: Any) -> None:
    session.info.pop(_MEMO, None)


@event.listens_for(orm.Session, "after_transaction_end")
def _forget_at_end(session: orm.Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_MEMO, None)
