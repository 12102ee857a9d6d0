"""JSON API for the secretariat's other systems: /api/v1/committees, proposals, decisions.

Each integration sends its own key in the X-API-Key header (`jcbot apikey create NAME`);
a key's scopes and committee list say what it may do where (reads need `read`). Writes
(draft, distribute, withdraw, record a letter: `api_write.py`) are one service call each,
audited as `api:NAME`. Proposals show status and deadline, never who asserted what.
Errors are RFC 9457 problem details. The OpenAPI description is /api/v1/openapi.json
(only these routes are in it).
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel
from sqlmodel import Session, select

from jcbot.publish import record
from jcbot.core.decision import Verdict
from jcbot.services import apikeys, queries
from jcbot.services.evaluation import OPEN_STATUSES
from jcbot.services.roster_log import committee_rules
from jcbot.services.context import ServiceContext
from jcbot.store.models import Committee, Decision, Proposal, ProposalItem, ProposalVersion
from jcbot.store.web_models import ApiKey
from jcbot.web import api_write, problems

Status = Literal["draft", "open", "objected", "adopted", "lapsed", "withdrawn", "superseded", "referred"]


class ItemOut(BaseModel):
    kind: str
    title: str
    reference: str | None = None


class CommitteeOut(BaseModel):
    slug: str
    name: str
    host_country: str
    code: str
    timezone: str
    objection_period_days: int


class ProposalOut(BaseModel):
    ref: str
    committee: str
    version: int
    title: str
    status: Status
    items: list[ItemOut]
    distributed_at: datetime | None
    deadline: datetime | None
    basis: str | None
    adopted_at: datetime | None
    closed_at: datetime | None
    decision: str | None  # the decision number once adopted


class MeetingOut(BaseModel):
    title: str
    place: str
    held_on: str


class DecisionOut(BaseModel):
    number: str
    committee: str
    title: str
    text: str
    items: list[ItemOut]
    basis: str
    basis_text: str
    adopted_at: datetime
    adopted_on: str
    timezone: str
    meeting: MeetingOut | None
    tally: dict | None
    audit_hash: str | None


def _committee_out(c: Committee) -> CommitteeOut:
    return CommitteeOut(slug=c.slug, name=c.name, host_country=c.host_country, code=c.code, timezone=c.timezone,
                        objection_period_days=committee_rules(c).electronic_decision.objection_period_days)


def _proposal_out(s: Session, c: Committee, p: Proposal, v: ProposalVersion, verdict: Verdict | None) -> ProposalOut:
    """A proposal as the API shows it: the status the core computes now, as every channel shows it."""
    items = s.exec(select(ProposalItem).where(ProposalItem.version_id == v.id).order_by(ProposalItem.position))
    d = s.exec(select(Decision).where(Decision.version_id == v.id)).first()
    status, basis, adopted_at = v.status, v.basis, v.adopted_at
    if verdict is not None:
        status, basis, adopted_at = verdict.status, verdict.basis, verdict.adopted_at
    if d is not None and status == "referred":  # adopted since, at a meeting: the proposal's outcome
        status, basis, adopted_at = "adopted", d.basis, d.adopted_at
    return ProposalOut(ref=p.ref, committee=c.slug, version=v.version, title=v.title, status=status,  # type: ignore[arg-type]
                       items=[ItemOut(kind=i.kind, title=i.title, reference=i.reference) for i in items],
                       distributed_at=v.distributed_at, deadline=v.deadline, basis=basis, adopted_at=adopted_at,
                       closed_at=v.closed_at, decision=d.number if d else None)


def _open_verdicts(s: Session, versions: list[ProposalVersion], now: datetime) -> dict[int, Verdict]:
    """The verdicts now of the versions whose stored status may be behind (open or objected)."""
    ids = [v.id for v in versions if v.status in OPEN_STATUSES]
    return {vid: verdict for vid, (_, verdict) in queries.current_verdicts(s, ids, now).items()}  # type: ignore[arg-type]


HEADER = APIKeyHeader(name="X-API-Key", auto_error=False,
                      description="The integration's key, from `jcbot apikey create NAME`.")


def key_dependency(ctx: ServiceContext):
    """The dependency resolving the X-API-Key header to the key's row (401 problem if none)."""

    def key(value: str | None = Security(HEADER)) -> ApiKey:
        with ctx.read("api") as tx:
            row = apikeys.check(tx.session, value)
        if row is None:
            raise HTTPException(401, "missing, unknown or revoked API key: send it in the X-API-Key header "
                                     "(the secretariat creates one with `jcbot apikey create NAME`)",
                                headers={"WWW-Authenticate": "APIKey"})
        return row

    return key


def install(app) -> None:
    """Errors of /api/ as problem details, and the problem responses in the OpenAPI description."""
    problems.install(app, "/api/")


def proposal_out(ctx: ServiceContext, ref: str, row: ApiKey, scope: str = "read") -> ProposalOut:
    """Proposal `ref` as the API shows it now, if key `row` may see it (404 or 403 problem if not)."""
    with ctx.read("api") as tx:
        p = tx.session.exec(select(Proposal).where(Proposal.ref == ref)).first()
        if p is None:
            raise HTTPException(404, f"no proposal {ref!r}")
        c = tx.session.get(Committee, p.committee_id)
        why = apikeys.refusal(row, scope, c.slug)  # type: ignore[union-attr]
        if why:
            raise problems.Problem(403, why, "committee-not-allowed" if scope in apikeys.scopes_of(row)
                                   else "missing-scope")
        v = tx.session.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == p.id,
                                                          ProposalVersion.version == p.current_version)).one()
        verdicts = _open_verdicts(tx.session, [v], tx.now)
        return _proposal_out(tx.session, c, p, v, verdicts.get(v.id))  # type: ignore[arg-type]


def router(ctx: ServiceContext) -> APIRouter:
    """The /api/v1 routes, each behind an API key."""
    key = key_dependency(ctx)

    def reader(request: Request, row: ApiKey = Depends(key)) -> ApiKey:
        if request.method == "GET":
            why = apikeys.refusal(row, "read")
            if why:
                raise problems.Problem(403, why, "missing-scope")
        return row

    r = APIRouter(prefix="/api/v1", tags=["v1"], dependencies=[Depends(reader)],
                  responses=problems.RESPONSES)

    def committee_or_404(s: Session, slug: str) -> Committee:
        c = record.committee(s, slug)
        if c is None:
            raise HTTPException(404, f"no committee {slug!r}")
        return c

    @r.get("/committees", response_model=list[CommitteeOut], summary="Every committee")
    def committees() -> list[CommitteeOut]:
        with ctx.read("api") as tx:
            return [_committee_out(c) for c in record.committees(tx.session)]

    @r.get("/committees/{slug}", response_model=CommitteeOut, summary="One committee")
    def committee(slug: str) -> CommitteeOut:
        with ctx.read("api") as tx:
            return _committee_out(committee_or_404(tx.session, slug))

    @r.get("/proposals", response_model=list[ProposalOut], summary="Proposals (current versions), newest first")
    def proposals(committee: str | None = Query(None, description="A committee's slug"),
                  status: Status | None = Query(None, description="Only proposals in this status"),
                  row: ApiKey = Depends(key)) -> list[ProposalOut]:
        allowed = apikeys.committees_of(row)
        with ctx.read("api") as tx:
            q = select(Committee, Proposal, ProposalVersion).join(Proposal, Proposal.committee_id == Committee.id).join(
                ProposalVersion, (ProposalVersion.proposal_id == Proposal.id)
                & (ProposalVersion.version == Proposal.current_version))
            if committee:
                q = q.where(Committee.id == committee_or_404(tx.session, committee).id)
            if status:
                # An open version's status now may differ from the stored one: filter after judging.
                q = q.where(ProposalVersion.status.in_((status, *OPEN_STATUSES)))  # type: ignore[attr-defined]
            rows = tx.session.exec(q.order_by(Proposal.created_at.desc(), Proposal.id.desc())).all()  # type: ignore[attr-defined]
            rows = [(c, p, v) for c, p, v in rows if allowed is None or c.slug in allowed]
            verdicts = _open_verdicts(tx.session, [v for _, _, v in rows], tx.now)
            out = [_proposal_out(tx.session, c, p, v, verdicts.get(v.id)) for c, p, v in rows]  # type: ignore[arg-type]
            return [o for o in out if status is None or o.status == status]

    @r.get("/proposals/{ref}", response_model=ProposalOut, summary="One proposal")
    def proposal(ref: str, row: ApiKey = Depends(key)) -> ProposalOut:
        return proposal_out(ctx, ref, row)

    api_write.add_routes(r, ctx, key, ProposalOut, proposal_out)

    @r.get("/decisions", response_model=list[DecisionOut], summary="Adopted decisions, newest first")
    def decisions(committee: str | None = Query(None, description="A committee's slug")) -> list[dict]:
        with ctx.read("api") as tx:
            cs = [committee_or_404(tx.session, committee)] if committee else record.committees(tx.session)
            out = [d for c in cs for d in record.decisions(tx.session, c)]
            return [d.as_json() for d in sorted(out, key=lambda d: d.adopted_at, reverse=True)]

    @r.get("/decisions/{number}", response_model=DecisionOut, summary="One decision")
    def decision(number: str) -> dict:
        with ctx.read("api") as tx:
            d = tx.session.exec(select(Decision).where(Decision.number == number)).first()
            c = tx.session.get(Committee, d.committee_id) if d else None
            found = record.decision(tx.session, c, number) if c else None
            if found is None:
                raise HTTPException(404, f"no decision {number!r}")
            return found.as_json()

    return r
