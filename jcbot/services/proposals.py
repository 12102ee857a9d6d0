"""Proposals: draft, distribute, withdraw, refer, revise and redistribute."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session, select

from jcbot.core.cochairs import acting_for_cochairs
from jcbot.core.decision import distribute as core_distribute
from jcbot.core.roster import Roster
from jcbot.services import case_flow, documents, expert_briefs, notices, reach
from jcbot.services.context import ServiceContext, ServiceError, Tx
from jcbot.services.documents import Attached, Upload
from jcbot.services.evaluation import OPEN_STATUSES, Facts, gather, members_by_handle, recipient, settle, verdict_of
from jcbot.services.numbering import ITEM_KINDS, proposal_ref
from jcbot.services.roster import get_committee
from jcbot.services.roster_log import load_roster
from jcbot.store.models import Committee, Proposal, ProposalItem, ProposalVersion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Item:
    """One item of a proposal as drafted."""

    kind: str
    title: str
    reference: str | None = None


def get_proposal(session: Session, ref: str, lock: bool = False) -> tuple[Committee, Proposal, ProposalVersion]:
    """A proposal by its reference, with its committee and current version (`lock`: for a change)."""
    q = select(Proposal).where(Proposal.ref == ref)
    # Every change to a proposal locks its row first (PostgreSQL; SQLite's BEGIN IMMEDIATE
    # already serialises writers): two workers settling, or recording the same evidence,
    # at once must not both act on what they read before the other committed.
    p = session.exec(q.with_for_update() if lock else q).first()
    if p is None:
        raise ServiceError(f"no proposal {ref!r}")
    c = session.get(Committee, p.committee_id)
    v = version_of(session, p, p.current_version)
    return c, p, v  # type: ignore[return-value]


def lock_proposal(tx: Tx, ref: str) -> tuple[Committee, Proposal, ProposalVersion]:
    """`get_proposal` for a change: lock the proposal's row, then read the instant (`Tx.after_lock`)."""
    found = get_proposal(tx.session, ref, lock=True)
    tx.after_lock()
    return found


def version_of(session: Session, p: Proposal, number: int) -> ProposalVersion:
    v = session.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == p.id,
                                                   ProposalVersion.version == number)).first()
    if v is None:
        raise ServiceError(f"{p.ref} has no version {number}")
    return v


def _check_items(items: list[Item]) -> None:
    if not items:
        raise ServiceError("a proposal needs at least one item (kind and title)")
    for i in items:
        if i.kind not in ITEM_KINDS:
            raise ServiceError(f"item {i.title!r}: kind must be one of {', '.join(ITEM_KINDS)}, got {i.kind!r}")
        if not i.title.strip():
            raise ServiceError("an item needs a title")


def _add_version(tx: Tx, p: Proposal, number: int, title: str, text: str, items: list[Item]) -> ProposalVersion:
    if not title.strip() or not text.strip():
        raise ServiceError("a proposal needs a title and a text")
    _check_items(items)
    v = ProposalVersion(proposal_id=p.id, version=number, title=title.strip(), text=text, created_at=tx.now)
    tx.session.add(v)
    tx.session.flush()
    for n, i in enumerate(items, 1):
        tx.session.add(ProposalItem(version_id=v.id, position=n, kind=i.kind, title=i.title.strip(), reference=i.reference))
    p.current_version = number
    tx.session.add(p)
    return v


def draft(ctx: ServiceContext, slug: str, title: str, text: str, items: list[Item], actor: str,
          uploads: list[Upload] | None = None) -> Proposal:
    """Draft a proposal (version 1, not yet distributed), with the documents it is about."""
    with ctx.tx(actor) as tx:
        return create_draft(tx, get_committee(tx.session, slug), title, text, items, uploads)


def create_draft(tx: Tx, c: Committee, title: str, text: str, items: list[Item],
                 uploads: list[Upload] | None = None) -> Proposal:
    """`draft` in the caller's transaction (jcbot case propose drafts one with its cases)."""
    p = Proposal(committee_id=c.id, ref=proposal_ref(tx.session, c, tx.now), created_at=tx.now, created_by=tx.actor)
    tx.session.add(p)
    tx.session.flush()
    v = _add_version(tx, p, 1, title, text, items)
    attached = documents.link(tx, v, uploads or [], len(items), c.id)
    tx.audit("proposal.drafted", f"proposal:{p.ref}", {"title": title, "items": [i.__dict__ for i in items]}
             | ({"documents": _brief(attached)} if attached else {}), c.id)
    return p


def _brief(attached: list[Attached]) -> list[dict]:
    """Documents as audit events record them."""
    return [{"name": a.name, "sha256": a.sha256, "visibility": a.visibility, "items": list(a.items)} for a in attached]


def _frozen(ref: str, v: ProposalVersion) -> ServiceError:
    return ServiceError(f"{ref} version {v.version} was distributed at {v.distributed_at:%Y-%m-%d %H:%M} UTC; its documents "
                        f"are frozen: revise it to distribute other documents (jcbot proposal revise {ref} "
                        "--document PATH ...)")


def attach(ctx: ServiceContext, ref: str, uploads: list[Upload], actor: str) -> list[Attached]:
    """Add documents to a proposal's current version before it is distributed; returns those added."""
    if not uploads:
        raise ServiceError("give at least one file to attach")
    with ctx.tx(actor) as tx:
        c, p, v = lock_proposal(tx, ref)
        if v.distributed_at is not None:
            raise _frozen(ref, v)
        count = len(tx.session.exec(select(ProposalItem.id).where(ProposalItem.version_id == v.id)).all())
        added = documents.link(tx, v, uploads, count, c.id)
        if added:
            tx.audit("proposal.documents_attached", f"proposal:{ref}", {"version": v.version,
                                                                        "documents": _brief(added)}, c.id)
        return added


def detach(ctx: ServiceContext, ref: str, name: str, actor: str) -> Attached:
    """Take a document off a proposal's current version before it is distributed."""
    with ctx.tx(actor) as tx:
        c, p, v = lock_proposal(tx, ref)
        if v.distributed_at is not None:
            raise _frozen(ref, v)
        gone = documents.unlink(tx, v, name)
        tx.audit("proposal.document_detached", f"proposal:{ref}", {"version": v.version, "name": gone.name,
                                                                   "sha256": gone.sha256}, c.id)
        return gone


def _require_cochairs(roster: Roster, by: str | None, tx: Tx, what: str) -> str:
    """Who acts for the co-chairs now (the core decides; None = the secretariat on their behalf)."""
    return acting_for_cochairs(roster, by, tx.now, what)


def _distribute(tx: Tx, c: Committee, p: Proposal, v: ProposalVersion, roster: Roster, who: str) -> Facts:
    # Members must receive exactly the bytes the hashes name: a file gone or altered stops it here.
    documents.require_intact(tx.session, tx.ctx.settings, v.id)  # type: ignore[arg-type]
    hashes = documents.hashes(tx.session, v.id)  # type: ignore[arg-type]
    dist = core_distribute(roster, tx.now)
    v.distributed_at, v.deadline, v.electorate = dist.distributed_at, dist.deadline, list(dist.electorate)
    v.distributed_by, v.status, p.status = who, "open", "open"
    tx.session.add(v)
    tx.session.add(p)
    tx.session.flush()
    facts = gather(tx.session, c, p, v, roster)
    v.next_change_at = verdict_of(facts, tx.now).next_change
    # The cases its items carry are now before the JC (refused, with the distribution, if one cannot be).
    case_flow.on_distributed(tx, c, p, list(facts.items))
    # Counted in the electorate all the same (the roster decides), but said loudly: no notice reaches them.
    lost = [u.handle for u in reach.unreachable(tx.session, c, tx.now, list(dist.electorate))]
    # The hashes distributed are in the chain: `audit verify` checks the version still carries them.
    tx.audit("proposal.distributed", f"proposal:{p.ref}", {
        "version": v.version, "by": who, "deadline": dist.deadline, "electorate": list(dist.electorate),
    } | ({"unreachable": lost} if lost else {}) | ({"documents": hashes} if hashes else {}), c.id)
    if lost:
        log.warning("event=distribution.unreachable proposal=%s members=%s", p.ref, ",".join(lost))
    by_handle = members_by_handle(tx.session, c)
    docs = notices.documents_data(tx.session, v.id)  # type: ignore[arg-type]
    tx.notify_all([notices.proposal_notice("distribution", facts, recipient(by_handle[handle]), docs)
                   for handle in dist.electorate])
    expert_briefs.brief_all(tx, tx.ctx.settings, facts)  # experts appointed to it read it too, confidential documents included
    return facts


def distribute(ctx: ServiceContext, ref: str, actor: str, by: str | None = None) -> ProposalVersion:
    """Distribute the current draft version to all members (refused while a seat is vacant)."""
    with ctx.tx(actor) as tx:
        c, p, v = lock_proposal(tx, ref)
        if v.distributed_at is not None:
            raise ServiceError(f"{ref} version {v.version} was already distributed ({v.status}); revise it to redistribute")
        roster = load_roster(tx.session, c)
        _distribute(tx, c, p, v, roster, _require_cochairs(roster, by, tx, "distribute a proposal"))
        return v


def _close(ctx: ServiceContext, ref: str, actor: str, by: str | None, status: str, note: str | None) -> ProposalVersion:
    with ctx.tx(actor) as tx:
        c, p, v = lock_proposal(tx, ref)
        roster = load_roster(tx.session, c)
        who = _require_cochairs(roster, by, tx, f"mark a proposal {status}")
        _require_open(tx, c, p, v, roster)
        v.closed_as, v.closed_at, v.closed_note = status, tx.now, note
        facts = gather(tx.session, c, p, v, roster)
        settle(tx, facts, verdict_of(facts, tx.now))
        tx.audit(f"proposal.{status}", f"proposal:{ref}", {"version": v.version, "by": who, "note": note}, c.id)
        for r in _members(tx, c, roster):
            tx.notify(notices.proposal_notice(status, facts, r, {"note": note}))
        tx.notify(notices.announcement(status, facts, {"note": note}))
        return v


def _require_open(tx: Tx, c: Committee, p: Proposal, v: ProposalVersion, roster: Roster) -> None:
    if v.distributed_at is None:
        raise ServiceError(f"{p.ref} has not been distributed")
    # Settle first: a deadline may have passed since the last sweep.
    facts = gather(tx.session, c, p, v, roster)
    settle(tx, facts, verdict_of(facts, tx.now))
    if v.status not in OPEN_STATUSES:
        raise ServiceError(f"{p.ref} is {v.status}; only an open or objected proposal can be changed")


def _members(tx: Tx, c: Committee, roster: Roster):
    by_handle = members_by_handle(tx.session, c)
    return [recipient(by_handle[h]) for h in roster.active_members(tx.now) if h in by_handle]


def withdraw(ctx: ServiceContext, ref: str, actor: str, by: str | None = None, note: str | None = None) -> ProposalVersion:
    """The co-chairs withdraw a proposal."""
    return _close(ctx, ref, actor, by, "withdrawn", note)


def refer(ctx: ServiceContext, ref: str, actor: str, by: str | None = None, note: str | None = None) -> ProposalVersion:
    """The co-chairs refer a proposal to a meeting or a conference call."""
    return _close(ctx, ref, actor, by, "referred", note)


def revise(ctx: ServiceContext, ref: str, actor: str, *, title: str | None = None, text: str | None = None,
           items: list[Item] | None = None, by: str | None = None, redistribute: bool = True,
           uploads: list[Upload] | None = None) -> ProposalVersion:
    """A new version (the old one superseded if it was distributed), distributed at once unless asked not to.

    The new version carries the old one's documents unless `uploads` gives its documents
    (as `items` gives its items); the assertions on the old version do not carry over.
    """
    with ctx.tx(actor) as tx:
        c, p, old = lock_proposal(tx, ref)
        roster = load_roster(tx.session, c)
        who = _require_cochairs(roster, by, tx, "revise a proposal")
        if old.distributed_at is not None:
            _require_open(tx, c, p, old, roster)
            old.closed_as, old.closed_at = "superseded", tx.now
            facts = gather(tx.session, c, p, old, roster)
            settle(tx, facts, verdict_of(facts, tx.now))
        old_items = [Item(i.kind, i.title, i.reference) for i in tx.session.exec(
            select(ProposalItem).where(ProposalItem.version_id == old.id).order_by(ProposalItem.position))]
        new = _add_version(tx, p, old.version + 1, title or old.title, text or old.text, items or old_items)
        if uploads:
            attached = documents.link(tx, new, uploads, len(items or old_items), c.id)
        else:  # item bindings carry over only with the items they name
            attached = documents.carry(tx, old, new, keep_items=not items)
        p.status = "draft"
        tx.audit("proposal.revised", f"proposal:{ref}", {"from_version": old.version, "version": new.version, "by": who}
                 | ({"documents": _brief(attached)} if attached else {}), c.id)
        if redistribute:
            _distribute(tx, c, p, new, roster, who)
        return new
