"""The API's writes: draft, distribute, withdraw, record a letter; each one service call, audited as `api:NAME`.

Every POST needs the key's scope (draft; distribute for distribute and withdraw;
record) on the proposal's committee, and may carry an `Idempotency-Key` header: a retry
with the same key and body acts once and gets the first answer again (services/idempotency.py).
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from jcbot.core.errors import ProcedureError
from jcbot.services import apikeys, assertions, idempotency, proposals
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.queries import committee_of
from jcbot.store.models import Committee
from jcbot.store.web_models import ApiKey
from jcbot.web import problems

class ItemIn(BaseModel):
    kind: str = Field(description="methodology_approval, project_registration, ... (as `jcbot propose` takes)")
    title: str
    reference: str | None = None


class DraftIn(BaseModel):
    committee: str = Field(description="The committee's slug")
    title: str
    text: str
    items: list[ItemIn] = Field(min_length=1)


class ActIn(BaseModel):
    by: str | None = Field(None, description="The co-chair (or alternate) acting, by handle; none: the "
                                             "secretariat on the co-chairs' behalf")
    note: str | None = Field(None, description="Why (withdraw): sent to the members")


class LetterIn(BaseModel):
    member: str = Field(description="The member's handle")
    position: Literal["affirmative", "negative"]
    opinion: str | None = Field(None, description="Required with a negative")
    at: datetime | None = Field(None, description="When the letter was made (default: now)")
    note: str = Field(description="Which letter, received when (kept in the record)")
    version: int | None = Field(None, description="The version answered (default: the current one)")


class LetterOut(BaseModel):
    ref: str
    assertion_id: int
    duplicate: bool
    ignored: bool
    status: str


def _committee_of(ctx: ServiceContext, ref: str) -> str:
    try:
        cid = committee_of(ctx, ref)
    except ServiceError as exc:
        raise HTTPException(404, str(exc)) from None
    with ctx.read("api") as tx:
        return tx.session.get(Committee, cid).slug  # type: ignore[union-attr]


def _allow(row: ApiKey, scope: str, committee: str) -> None:
    why = apikeys.refusal(row, scope, committee)
    if why:
        raise problems.Problem(403, why, "committee-not-allowed" if scope in apikeys.scopes_of(row) else "missing-scope")


async def _once(ctx: ServiceContext, request: Request, row: ApiKey, key: str | None, status: int,
                act: Callable[[], Any]) -> JSONResponse:
    """Run `act` (the service call, in the service thread pool) once per Idempotency-Key; answer in JSON."""
    actor = f"api:{row.name}"
    claim = None
    if key is not None:
        if not key.strip() or len(key) > idempotency.MAX_KEY:
            raise problems.Problem(422, f"Idempotency-Key: 1 to {idempotency.MAX_KEY} characters", "invalid")
        digest = idempotency.request_hash(request.method, request.url.path, await request.body())
        claim = await ctx.run(idempotency.claim, ctx, row.id, key, digest, actor)
        if claim.state == "mismatch":
            raise problems.Problem(422, f"the Idempotency-Key {key!r} was used with another request; use a new key "
                                        "for a new request", "idempotency-key-reused")
        if claim.state == "in_progress":
            raise problems.Problem(409, f"a request with the Idempotency-Key {key!r} is still being answered; "
                                        "retry in a moment", "idempotency-key-in-progress")
        if claim.state == "replay":
            return JSONResponse(claim.response, status_code=claim.status or 200,
                                media_type=problems.MEDIA_TYPE if (claim.status or 200) >= 400 else None,
                                headers={"Idempotent-Replayed": "true"})
    try:
        out, code = jsonable_encoder(await ctx.run(act)), status
    except problems.Problem as exc:
        out, code = problems.body(exc.status, exc.detail, exc.name), exc.status
    except (ServiceError, ProcedureError) as exc:
        code = 404 if str(exc).startswith(("no proposal", "no committee")) else 409
        out = problems.body(code, str(exc), None if code == 404 else "refused")
    except BaseException:
        if claim is not None and claim.claim_id is not None:
            await ctx.run(idempotency.drop, ctx, claim.claim_id, actor)
        raise
    if claim is not None and claim.claim_id is not None:
        # A refusal is an answer too: the retry gets it again rather than acting.
        await ctx.run(idempotency.finish, ctx, claim.claim_id, code, out, actor)
    return JSONResponse(out, status_code=code, media_type=problems.MEDIA_TYPE if code >= 400 else None)


def add_routes(r: APIRouter, ctx: ServiceContext, key: Callable[..., ApiKey], ProposalOut: type[BaseModel],
               proposal_out: Callable[..., BaseModel]) -> None:
    """The write routes, on the API's router (`ProposalOut`, `proposal_out`: how api.py shows a proposal)."""
    idem = Header(None, alias="Idempotency-Key", description="Makes a retried POST act once (any unique string, "
                                                             "e.g. a UUID; kept per API key)")

    @r.post("/proposals", status_code=201, response_model=ProposalOut, summary="Draft a proposal (scope draft)",
            responses=problems.WRITE_RESPONSES)
    async def draft(body: DraftIn, request: Request, row: ApiKey = Depends(key),
                    idempotency_key: str | None = idem) -> JSONResponse:
        _allow(row, "draft", body.committee)

        def act() -> BaseModel:
            items = [proposals.Item(i.kind, i.title, i.reference) for i in body.items]
            try:
                p = proposals.draft(ctx, body.committee, body.title, body.text, items, f"api:{row.name}")
            except ServiceError as exc:
                status = 404 if str(exc).startswith("no committee") else 422
                raise problems.Problem(status, str(exc), None if status == 404 else "invalid") from None
            return proposal_out(ctx, p.ref, row, "draft")

        return await _once(ctx, request, row, idempotency_key, 201, act)

    def act_route(action: str, scope: str, summary: str) -> None:
        @r.post(f"/proposals/{{ref}}/{action}", response_model=ProposalOut, summary=summary,
                responses=problems.WRITE_RESPONSES, name=action)
        async def act(ref: str, request: Request, body: ActIn | None = None, row: ApiKey = Depends(key),
                      idempotency_key: str | None = idem) -> JSONResponse:
            _allow(row, scope, _committee_of(ctx, ref))
            body = body or ActIn()

            def call() -> BaseModel:
                actor = f"api:{row.name}"
                if action == "distribute":
                    proposals.distribute(ctx, ref, actor, body.by)
                else:
                    proposals.withdraw(ctx, ref, actor, body.by, body.note)
                return proposal_out(ctx, ref, row, scope)

            return await _once(ctx, request, row, idempotency_key, 200, call)

    act_route("distribute", "distribute", "Distribute the current draft version to all members (scope distribute)")
    act_route("withdraw", "distribute", "Withdraw an open proposal on the co-chairs' behalf (scope distribute)")

    @r.post("/proposals/{ref}/letters", status_code=201, response_model=LetterOut,
            summary="Record a member's assertion received by letter (scope record)",
            responses=problems.WRITE_RESPONSES)
    async def letter(ref: str, body: LetterIn, request: Request, row: ApiKey = Depends(key),
                     idempotency_key: str | None = idem) -> JSONResponse:
        _allow(row, "record", _committee_of(ctx, ref))
        # The same letter sent twice (same member, answer, date and note) is one piece of evidence.
        evidence = hashlib.sha256(repr((body.member, body.position, body.opinion, body.at, body.note,
                                        body.version)).encode()).hexdigest()[:32]

        def call() -> LetterOut:
            done = assertions.record_assertion(
                ctx, ref, body.member, body.position, channel="letter", evidence_key=f"api-letter:{evidence}",
                actor=f"api:{row.name}", opinion=body.opinion, version=body.version, at=body.at, note=body.note)
            return LetterOut(ref=ref, assertion_id=done.assertion_id, duplicate=done.duplicate, ignored=done.ignored,
                             status=done.status)

        return await _once(ctx, request, row, idempotency_key, 201, call)
