"""`jcbot dev ...`: try jcbot on one machine: answer as a member, with no mail server."""
from __future__ import annotations

from email import message_from_string
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime, make_msgid

import typer

from jcbot.cli.common import context, fail, refusals

app = typer.Typer(help="Development helpers: act as a member on this machine.", no_args_is_help=True)
ANSWERS = {"affirm": "AFFIRM", "object": "OBJECT"}


def _distribution(ctx, ref: str, handle: str):
    """The member and the email text of their distribution of the proposal's current version."""
    from sqlmodel import select

    from jcbot.channels.email.compose import EmailRenderer, distribution_key
    from jcbot.services.proposals import get_proposal
    from jcbot.store.db import read_scope
    from jcbot.store.models import Member
    from jcbot.store.outbox import OutboxMessage, Outgoing

    with refusals(), read_scope(ctx.engine) as session:
        committee, _, version = get_proposal(session, ref)
        member = session.exec(select(Member).where(Member.committee_id == committee.id,
                                                   Member.handle == handle)).first()
        if member is None:
            fail(f"{committee.slug} has no member {handle!r} (jcbot member list {committee.slug})")
        if not member.email:
            fail(f"{handle} has no email address; jcbot member update {committee.slug} {handle} --email ...")
        key = "email:" + distribution_key(version.id, member.handle)
        row = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == key)).first()
        if row is None:
            fail(f"{ref} version {version.version} was not sent to {handle} by email; "
                 f"distribute it first (jcbot proposal distribute {ref})")
        out = Outgoing(row.id, row.channel, row.kind, row.recipient, row.dedupe_key, row.payload, 0)
    # Rendered as the dispatcher renders it: the same Reply-To token and Message-ID.
    payload = EmailRenderer(ctx.settings).for_outbox(out)
    if not payload:
        fail(f"{ref}: the distribution email to {handle} cannot be rendered")
    return member, payload["message"]


def compose_reply(original: str, name: str, address: str, answer: str, opinion: str | None, now) -> bytes:
    """The reply a mail client writes: to the Reply-To, threaded, the answer above the quoted original."""
    src = message_from_string(original, policy=default)
    msg = EmailMessage(policy=default)
    msg["From"] = Address(name or "", addr_spec=address)
    msg["To"] = str(src["Reply-To"] or src["From"])
    subject = str(src["Subject"] or "")
    msg["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or "localhost")
    parent = str(src["Message-ID"] or "")
    if parent:
        msg["In-Reply-To"] = parent
        msg["References"] = " ".join(filter(None, [str(src["References"] or ""), parent]))
    part = src.get_body(("plain",))
    text = part.get_content() if part is not None else ""
    quoted = "\n".join(">" + (" " + line if line else "") for line in text.splitlines())
    first = answer + (f" - {opinion}" if opinion else "")
    sent = str(src["Date"] or format_datetime(now))
    msg.set_content(f"{first}\n\nOn {sent}, {src['From']} wrote:\n{quoted}\n")
    return msg.as_bytes()


@app.command("reply")
def reply(
    ref: str = typer.Argument(..., help="The proposal, e.g. MN-P-2026-001."),
    member: str = typer.Argument(..., help="The member's handle."),
    answer: str = typer.Argument(..., help="affirm or object."),
    opinion: str = typer.Argument(None, help="The opinion (an objection needs one)."),
    now: bool = typer.Option(False, "--now", help="Also feed it through the intake at once (else `jcbot serve` does)."),
) -> None:
    """Write the reply a member's mail client would send into the Maildir jcbot reads."""
    from jcbot.channels.email import maildir

    word = ANSWERS.get(answer.strip().lower())
    if word is None:
        fail(f"answer {answer!r}: expected affirm or object")
    ctx = context()
    box = ctx.settings.inbound_maildir_path
    if box is None:
        fail("JCBOT_INBOUND_MAILDIR is off: there is no Maildir to write the reply into")
    who, original = _distribution(ctx, ref, member)
    raw = compose_reply(original, who.name, who.email, word, opinion, ctx.clock.now())
    path = maildir.deliver(box, raw)
    if not now:
        typer.echo(f"{member}'s reply to {ref} ({answer}) written to {path.resolve()}; "
                   "jcbot serve reads it within seconds (or add --now)")
        return
    from jcbot.cli.mail import report

    result = maildir.handle_file(ctx, path, box)
    if result is None:
        fail(f"{path}: not handled now (see the log); it stays in new/ for jcbot serve", 1)
    report(result, f"{member}'s reply to {ref}")
