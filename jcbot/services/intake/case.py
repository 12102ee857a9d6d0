"""What the rules of one intake look at: the input, and the records it names, read once."""
from __future__ import annotations

from bisect import insort
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, or_, select

from jcbot.core.decision import Admission
from jcbot.services import documents
from jcbot.services.context import ServiceError, Tx
from jcbot.services.evaluation import Facts, facts_of, gather
from jcbot.services.intake.chain import Stop
from jcbot.services.notices import proposal_data
from jcbot.services.roster_log import load_roster
from jcbot.store.memo import memo
from jcbot.store.models import AssertionRecord, Committee, Member, Proposal, ProposalItem, ProposalVersion, RosterChange

# The intake's reads, built once: Core statements whose rows carry the columns as
# attributes, read the way the ORM's instances are (every input runs them, and building a
# statement and loading ORM instances cost more than the database does). A change writes
# through Core as well, or through ORM instances loaded for it (evaluation.settle).
_P, _C, _V, _A, _I, _M, _RC = (t.__table__ for t in (  # type: ignore[attr-defined]
    Proposal, Committee, ProposalVersion, AssertionRecord, ProposalItem, Member, RosterChange))
_PROPOSAL_BY_REF = select(_P).where(_P.c.ref == bindparam("ref")).with_for_update()
_PROPOSAL_BY_ID = select(_P).where(_P.c.id == bindparam("id")).with_for_update()
_MEMBER_BY_HANDLE = select(_M).where(_M.c.committee_id == bindparam("committee_id"), _M.c.handle == bindparam("handle"))
_MEMBER_BY_ID = select(_M).where(_M.c.committee_id == bindparam("committee_id"), _M.c.id == bindparam("id"))


def _around(member_on: Any) -> Any:
    """What an input names around its locked proposal, in one statement read after the lock.

    The committee, the current version and the one answered (one or two rows), the
    member named (if any: an outer join) and the committee's roster mark. Its own
    statement, not a join in the locking one: on PostgreSQL a statement that waited for
    the lock sees only the locked row as the other writer left it, every other table
    as it was before the wait.
    """
    rc = _RC.alias("rc")
    mark = [select(f(rc.c.id)).where(rc.c.committee_id == _C.c.id).scalar_subquery().label(f"mark_{name}")
            for name, f in (("last", func.max), ("count", func.count))]
    versions = and_(_V.c.proposal_id == bindparam("proposal_id"),
                    or_(_V.c.version == bindparam("current"), _V.c.version == bindparam("asked")))
    joined = _C.join(_V, versions).outerjoin(_M, and_(_M.c.committee_id == _C.c.id, member_on))
    hashes = documents.hashes_column(_V.c.id).label("document_hashes")
    return (select(*_labelled(_C), *_labelled(_V), hashes, *_labelled(_M), *mark).select_from(joined)
            .where(_C.c.id == bindparam("committee_id")))


def _labelled(t: Table) -> list[Any]:
    return [c.label(f"{t.name}__{c.name}") for c in t.c]


# Each table's (column, label) pairs, for `_record` (built once: every input reads three tables' rows).
_LABELS = {t.name: [(c.name, f"{t.name}__{c.name}") for c in t.c] for t in (_C, _V, _M)}


def _record(row: Any, t: Table) -> Any:
    """One table's columns of a joined row, as attributes (None for an outer join that found nothing)."""
    m = row._mapping
    values = {name: m[label] for name, label in _LABELS[t.name]}
    return None if values["id"] is None else SimpleNamespace(**values)


_AROUND = {"handle": _around(_M.c.handle == bindparam("handle")), "id": _around(_M.c.id == bindparam("member_id")),
           None: _around(_M.c.id.is_(None))}
_RECORDS = select(_A).where(_A.c.version_id == bindparam("version_id")).order_by(_A.c.at, _A.c.id)
_RECORDED_ORDER = attrgetter("at", "id")  # _RECORDS's order
_VERSIONS = "intake.versions"  # the memo's key: (version id, status) -> (assertion rows, items)
_ITEMS = (select(_I.c.kind, _I.c.title, _I.c.reference).where(_I.c.version_id == bindparam("version_id"))
          .order_by(_I.c.position))


@dataclass
class Case:
    """One assertion on its way in: what was said, by whom, about what; filled in by the rules."""

    tx: Tx
    channel: str
    evidence_key: str
    position: str | None = None
    opinion: str | None = None
    at: datetime | None = None        # when it was made, if not now (a letter's date, the mail server's receipt)
    note: str | None = None
    ref: str | None = None            # the proposal, by reference (CLI, Slack) ...
    proposal_id: int | None = None    # ... or by id (an email reply's token)
    version_no: int | None = None     # the version answered; None: the current one
    handle: str | None = None         # the member, once known
    member_id: int | None = None
    # Resolved by the rules, in this order: rows read by Core, with the model's columns as attributes.
    committee: Committee | None = None
    proposal: Proposal | None = None
    version: ProposalVersion | None = None
    current: ProposalVersion | None = None
    member: Member | None = None
    facts: Facts | None = None
    admission: Admission | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # what one channel's rules need (a token, a reading)
    _records: list[Any] = field(default_factory=list, repr=False)  # assertion rows, in recorded order
    _mark: tuple[int | None, int] | None = field(default=None, repr=False)  # the roster's, read after the lock
    _document_hashes: dict[int, list[str]] = field(default_factory=dict, repr=False)  # by version id
    _member_read: tuple[str | None, Any, Any] | None = field(default=None, repr=False)  # (by, key, row or None)

    @property
    def when(self) -> datetime:
        """The instant of the assertion: its own date, else now (read after the proposal's lock)."""
        return self.at or self.tx.now

    def lock_proposal(self) -> bool:
        """Find and lock the proposal named by ref or id, then re-read the instant; False if unknown.

        Then, in one more statement, what the input names around it: committee, versions,
        the member named so far, the roster mark (see `_around`).
        """
        conn = self.tx.session.connection()
        p = (conn.execute(_PROPOSAL_BY_REF, {"ref": self.ref}) if self.ref is not None
             else conn.execute(_PROPOSAL_BY_ID, {"id": self.proposal_id})).first()
        if p is None:
            return False
        self.tx.after_lock()
        self.proposal, self.ref = p, p.ref
        by = "handle" if self.handle is not None else "id" if self.member_id is not None else None
        asked = self.version_no if self.version_no is not None else p.current_version
        rows = conn.execute(_AROUND[by], {"committee_id": p.committee_id, "proposal_id": p.id,
                                          "current": p.current_version, "asked": asked,
                                          "handle": self.handle, "member_id": self.member_id}).all()
        first = rows[0]  # the current version always exists
        self.committee = _record(first, _C)
        versions = {v.version: v for v in (_record(r, _V) for r in rows)}
        self.current, self.version = versions[p.current_version], versions.get(asked)
        self._document_hashes = {r.proposal_version__id: documents.hashes_from(r.document_hashes) for r in rows}
        self._mark = (first.mark_last, first.mark_count)
        self._member_read = (by, self.handle if by == "handle" else self.member_id, _record(first, _M))
        return True

    def load_member(self) -> bool:
        """The member named by handle or id, in the proposal's committee; False if none."""
        assert self.committee is not None
        by = "handle" if self.handle is not None else "id"
        key = self.handle if by == "handle" else self.member_id
        if self._member_read is not None and self._member_read[:2] == (by, key):
            self.member = self._member_read[2]  # read with the proposal's surroundings
        else:
            conn = self.tx.session.connection()
            self.member = (conn.execute(_MEMBER_BY_HANDLE, {"committee_id": self.committee.id, "handle": self.handle})
                           if by == "handle" else
                           conn.execute(_MEMBER_BY_ID, {"committee_id": self.committee.id, "id": self.member_id})).first()
        if self.member is not None:
            self.handle, self.member_id = self.member.handle, self.member.id
        return self.member is not None

    def seen(self) -> int | None:
        """The assertion already recorded from this very evidence on this version, if any."""
        assert self.version is not None
        if self.version.distributed_at is None:  # no facts to gather; nothing can have been recorded
            return None
        self.gather()  # the version's assertions are read once, for this and for the verdict
        return next((r.id for r in self._records if r.evidence_key == self.evidence_key), None)

    def document_hashes(self) -> list[str]:
        """The sorted SHA-256s of the answered version's documents (read with the version)."""
        assert self.version is not None
        found = self._document_hashes.get(self.version.id)
        return found if found is not None else documents.hashes(self.tx.session, self.version.id)

    def records(self) -> list[Any]:
        """The version's assertion rows, in recorded order (read once per intake, with the facts)."""
        self.gather()
        return self._records

    def gather(self) -> Facts:
        """The facts of the version answered (read once per intake, and once per transaction: see `remember`)."""
        if self.facts is None:
            assert self.committee and self.proposal and self.version
            s, v = self.tx.session, self.version
            versions = memo(s).setdefault(_VERSIONS, {})
            # Keyed by status too: an adoption gives the items their references.
            read = versions.get((v.id, v.status))
            if read is None:
                conn = s.connection()
                read = versions[(v.id, v.status)] = (
                    list(conn.execute(_RECORDS, {"version_id": v.id})),
                    tuple(r._asdict() for r in conn.execute(_ITEMS, {"version_id": v.id})))
            self._records = list(read[0])
            self.facts = facts_of(self.committee, self.proposal, v, load_roster(s, self.committee, self._mark),
                                  self._records, read[1])
        return self.facts

    def remember(self, row: dict[str, Any]) -> None:
        """The assertion row this intake just wrote, in the version's records this transaction read.

        A later input of the same transaction (a burst, a group commit) on the same
        version then reads neither them nor the items again: the transaction holds the
        write lock, so only its own inputs change them, and the memo is forgotten if a
        savepoint rolls back (store.memo).
        """
        assert self.version is not None
        read = memo(self.tx.session).get(_VERSIONS, {}).get((self.version.id, self.version.status))
        if read is not None:
            insort(read[0], SimpleNamespace(**row), key=_RECORDED_ORDER)

    def shown(self) -> dict[str, Any]:
        """The proposal as a refusal may show it: the current version once distributed, else the one answered."""
        if self.proposal is None or self.committee is None:
            return {}
        v = self.current if self.current is not None and self.current.distributed_at is not None else self.version
        if v is None or v.distributed_at is None:
            return {}
        if v is self.version:
            return proposal_data(self.gather())
        return proposal_data(gather(self.tx.session, self.committee, self.proposal, v))

    def refuse(self, why: str, error: Exception | None = None) -> Stop:
        """A refusal stop, carrying what a refusal message may show."""
        return Stop("refused", why, error=error or ServiceError(why), data=self.shown())
