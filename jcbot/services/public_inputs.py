"""Public inputs on a case (PROJECT_CYCLE methodology step 3, project step 2): submit, then confirm.

Anyone sends an input through the case's public page; it is stored PENDING and a
`public_input` notice carries a confirmation link to the sender's address. The link
opens a page whose button confirms (a POST: mail scanners follow links). Confirming
records an `InputConfirmed` event on the case through `case_flow`, so the cycle core
says whether it counts (confirmed within the window) or is refused (later); its verdict
is kept on the row. The address is never published.
"""
from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func
from sqlmodel import Session, select

from jcbot.core.cycle import CaseView, InputConfirmed
from jcbot.services import case_flow
from jcbot.services.apikeys import digest
from jcbot.services.context import Notice, Recipient, ServiceContext, ServiceError, Tx
from jcbot.services.notices import committee_data
from jcbot.services.signin import valid_email
from jcbot.services.viewers import normalize_email
from jcbot.store.cases import Case
from jcbot.store.db import lock_names
from jcbot.store.inputs import PublicInput
from jcbot.store.models import Committee

__all__ = ["Confirmation", "InputRefused", "InvalidInput", "Pending", "RateLimited", "Submitted", "confirm",
           "counted", "local_time", "network_of", "pending", "purge_unconfirmed", "submit", "validate"]

WINDOW = "public_inputs"
LIMITS = {"name": 200, "affiliation": 200, "text": 20000, "email": 320}
# The id a hypothetical input has when the core is asked whether one confirmed now would count.
_PROBE = "(this input)"


class InvalidInput(ServiceError):
    """The form is not filled in as it must be; `fields` says what is wrong with each field."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


class InputRefused(ServiceError):
    """No input is taken now: the case's call for public inputs is not open (`window_end`: when it closed)."""

    def __init__(self, message: str, window_end: datetime | None = None):
        super().__init__(message)
        self.window_end = window_end


class RateLimited(ServiceError):
    """Too many inputs from one address or network; `retry_after` in seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Submitted:
    """A stored pending input and where its confirmation link went."""

    input_id: int
    case_ref: str
    email: str
    window_end: str  # the window's end in the committee's time zone, for the answer


@dataclass(frozen=True)
class Pending:
    """What the confirmation page shows before the button is pressed."""

    case_ref: str
    case_title: str
    committee_slug: str
    name: str
    confirmed: bool
    counted: bool
    refused_reason: str | None


@dataclass(frozen=True)
class Confirmation:
    """The core's verdict on a confirmed input: counted, or refused with the window's end."""

    case_ref: str
    committee_slug: str
    counted: bool
    window_end: str | None  # in the committee's time zone
    reason: str | None      # the core's sentence when refused
    already: bool = False   # the link had been used before (the first verdict stands)


def local_time(at: datetime, tz: str) -> str:
    """'24 March 2026, 00:00 (Asia/Ulaanbaatar, UTC+08:00)': an instant as the committee reads it."""
    local = at.astimezone(ZoneInfo(tz))
    offset = local.strftime("%z")
    return f"{local.day} {local:%B %Y}, {local:%H:%M} ({tz}, UTC{offset[:3]}:{offset[3:]})"


def network_of(address: str | None) -> str:
    """The network an address belongs to for rate limits: its IPv4 /24 or IPv6 /64 ('unknown' if none)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def validate(name: str, affiliation: str | None, text: str, email: str) -> dict[str, str]:
    """What is wrong with each field of the form (empty when nothing is)."""
    errors = {}
    values = {"name": (name or "").strip(), "affiliation": (affiliation or "").strip(), "text": (text or "").strip(),
              "email": (email or "").strip()}
    if not values["name"]:
        errors["name"] = "Enter your name."
    if not values["text"]:
        errors["text"] = "Enter your input."
    if not valid_email(values["email"]):
        errors["email"] = "Enter an email address, such as name@example.org: the input counts once you confirm it."
    for key, limit in LIMITS.items():
        if len(values[key]) > limit and key not in errors:
            errors[key] = f"At most {limit} characters (this has {len(values[key])})."
    return errors


def _window_end(view: CaseView, c: Committee) -> str | None:
    w = view.windows.get(WINDOW)
    return local_time(w.end, c.timezone) if w else None


def _case(tx: Tx, ref: str, lock: bool = False) -> case_flow.Loaded:
    case = case_flow.find(tx.session, ref, lock=lock)
    if lock:
        tx.after_lock()
    return case_flow.load(tx.session, case)


def _check_limits(tx: Tx, email: str, network: str) -> None:
    settings = tx.ctx.settings
    # Two submissions from one address or network take turns: both cannot count the same rows under the limit.
    lock_names(tx.session, "public_input", f"email:{email}", f"network:{network}")
    tx.after_lock()
    for column, value, span, limit, what in (
        (PublicInput.email, email, timedelta(days=1), settings.inputs_per_address_per_day,
         "one email address in 24 hours"),
        (PublicInput.network, network, timedelta(hours=1), settings.inputs_per_network_per_hour,
         "one network in an hour"),
    ):
        since = tx.now - span
        n, oldest = tx.session.exec(select(func.count(), func.min(PublicInput.submitted_at)).where(
            column == value, PublicInput.submitted_at > since)).one()
        if n >= limit:
            retry = max(60, int(((oldest or tx.now) + span - tx.now).total_seconds()))
            raise RateLimited(f"Too many inputs: at most {limit} from {what}. Please try again in "
                              f"{(retry + 59) // 60} minutes.", retry)


def submit(ctx: ServiceContext, ref: str, name: str, affiliation: str | None, text: str, email: str,
           network: str, actor: str = "web:inputs") -> Submitted:
    """Store a pending input on case `ref` and send its confirmation link; refused outside the window."""
    errors = validate(name, affiliation, text, email)
    if errors:
        raise InvalidInput(errors)
    email = normalize_email(email)
    with ctx.tx(actor) as tx:
        loaded = _case(tx, ref)
        case, c = loaded.case, loaded.committee
        # The core decides whether an input confirmed now would count (the window is its judgement).
        view = case_flow.check(loaded, InputConfirmed(tx.now, _PROBE))
        if _PROBE not in view.inputs_counted:
            end = view.windows.get(WINDOW)
            if end is None:
                raise InputRefused(f"{case.ref} has no call for public inputs open.")
            raise InputRefused(f"The call for public inputs on {case.ref} closed on "
                               f"{local_time(end.end, c.timezone)}; no input is taken after it.", end.end)
        _check_limits(tx, email, network)
        token = secrets.token_urlsafe(32)
        row = PublicInput(case_id=case.id, name=name.strip(), affiliation=(affiliation or "").strip() or None,
                          text=text.strip(), email=email, network=network, submitted_at=tx.now,
                          token_hash=digest(token))
        tx.session.add(row)
        tx.session.flush()
        tx.audit("input.submitted", f"case:{case.ref}", {"input": row.id}, c.id)  # no name or address in the chain
        end_text = _window_end(view, c) or ""
        link = f"{ctx.settings.public_url.rstrip('/')}/inputs/confirm/{token}"
        data = {
            "subject": f"[JC-{c.code}] Confirm your public input on {case.ref}",
            "committee": committee_data(c),
            "case": {"ref": case.ref, "title": case.title, "kind": case.kind, "number": case.number},
            "link": link, "window_end": end_text,
            "lines": [f"You sent a public input on {case.ref} ({case.title}) as {row.name}.",
                      f"It counts once you confirm it, before the call closes on {end_text}:", link,
                      "The link opens a page with a button to confirm. If you did not send this input, ignore "
                      "this message: nothing is published without confirmation."],
            "recipient": {"handle": f"input:{row.id}", "name": row.name, "member_id": None, "timezone": c.timezone},
        }
        tx.notify(Notice("public_input", f"public_input:{row.id}", Recipient(f"input:{row.id}", row.name, None, email),
                         data, c.id, None, ("email",)))
        return Submitted(row.id, case.ref, email, end_text)  # type: ignore[arg-type]


def _by_token(session: Session, token: str) -> PublicInput | None:
    return session.exec(select(PublicInput).where(PublicInput.token_hash == digest(token))).first()


def pending(ctx: ServiceContext, token: str) -> Pending | None:
    """The input a confirmation link is for (None: no such link); reading it changes nothing."""
    with ctx.read("web:inputs") as tx:
        row = _by_token(tx.session, token)
        if row is None:
            return None
        case = tx.session.get(Case, row.case_id)
        c = tx.session.get(Committee, case.committee_id)  # type: ignore[union-attr]
        return Pending(case.ref, case.title, c.slug, row.name, row.confirmed_at is not None,  # type: ignore[union-attr]
                       row.counted, row.refused_reason)


def _verdict(c: Committee, case: Case, row: PublicInput, view: CaseView | None, already: bool) -> Confirmation:
    end = _window_end(view, c) if view is not None else None
    return Confirmation(case.ref, c.slug, row.counted, end, row.refused_reason, already)


def confirm(ctx: ServiceContext, token: str, actor: str = "web:inputs") -> Confirmation | None:
    """Confirm the input of `token`: the case records InputConfirmed now and the core says if it counts."""
    with ctx.read(actor) as rtx:
        row = _by_token(rtx.session, token)
        if row is None:
            return None  # an unknown link is answered from a read, never the write lock
        ref = rtx.session.get(Case, row.case_id).ref  # type: ignore[union-attr]
    with ctx.tx(actor) as tx:
        loaded = _case(tx, ref, lock=True)  # the case's lock orders two clicks of one link
        case, c = loaded.case, loaded.committee
        row = _by_token(tx.session, token)
        assert row is not None
        if row.confirmed_at is not None:
            return _verdict(c, case, row, case_flow.view_of(loaded, tx.now), already=True)
        key = str(row.id)
        _, view = case_flow.record(tx, loaded, InputConfirmed(tx.now, key), extra={"input": row.id})
        row.confirmed_at, row.counted = tx.now, key in view.inputs_counted
        if not row.counted:
            # The core's own sentence (its trace), e.g. "input 7 refused: the window ended at ...".
            why = next((s.text for s in reversed(view.trace) if s.kind == "input_confirmed" and f"input {key} " in s.text),
                       "refused")
            row.refused_reason = why[:500]
        tx.session.add(row)
        return _verdict(c, case, row, view, already=False)


def counted(session: Session, case_id: int) -> list[PublicInput]:
    """A case's confirmed inputs the core counted, in the order they were confirmed (what is published)."""
    return list(session.exec(select(PublicInput).where(PublicInput.case_id == case_id, PublicInput.counted)
                             .order_by(PublicInput.confirmed_at, PublicInput.id)))  # type: ignore[arg-type]


def purge_unconfirmed(ctx: ServiceContext, actor: str = "scheduler") -> int:
    """Delete the inputs nobody confirmed within JCBOT_INPUTS_UNCONFIRMED_DAYS (their name, address and text).

    Such an input was never published and never counted; keeping a stranger's address
    for ever would serve no one. Returns how many were deleted (one audit event names the count).
    """
    with ctx.tx(actor) as tx:
        before = tx.now - timedelta(days=ctx.settings.inputs_unconfirmed_days)
        ids = list(tx.session.exec(select(PublicInput.id).where(
            PublicInput.confirmed_at.is_(None), PublicInput.submitted_at < before)))  # type: ignore[union-attr]
        if not ids:
            return 0
        tx.session.execute(delete(PublicInput).where(PublicInput.id.in_(ids)))  # type: ignore[union-attr]
        tx.audit("input.purged", "public_inputs", {"inputs": sorted(ids), "unconfirmed_before": before})
        return len(ids)

