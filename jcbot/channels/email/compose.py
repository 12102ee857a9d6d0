"""Notices as emails: Jinja2 text and HTML parts, threading headers, reply tokens, the .ics.

A notice becomes one RFC 5322 message per recipient with an email address. Its
Message-ID is derived from the notice key, so a resend of the same notice carries the
same id and the recipient's mail system can recognise it; every later notice about a
proposal version points (In-Reply-To/References) at that member's distribution.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import asyncio
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from jcbot.channels.email import attachments
from jcbot.channels.email.bounces import bounce_address
from jcbot.channels.email.deadline import deadline_ics, deadline_lines, local_time
from jcbot.channels.email.mime import Attachment, Draft, write
from jcbot.channels.email.parse import accepted_forms_text
from jcbot.channels.email.shapes import Shapes
from jcbot.channels.email.tokens import make_token, reply_address
from jcbot.resources import templates_dir
from jcbot.services import outgoing
from jcbot.services.context import Notice, Rendered
from jcbot.secret import app_secret
from jcbot.services.dispatcher import PermanentFailure
from jcbot.services.documents import DocumentUnavailable
from jcbot.settings import Settings
from jcbot.store.outbox import Outgoing, email_payload

log = logging.getLogger(__name__)

ANSWERABLE = ("distribution", "reminder", "seat_reminder", "confirmation", "refusal")
# Kinds with templates of their own; any other kind is sent in the generic (digest) form.
KINDS = ("distribution", "confirmation", "escalation", "reminder", "seat_reminder", "adoption", "withdrawn",
         "referred", "lapse", "refusal", "digest", "duty", "case", "registry_notification", "public_input",
         "expert_brief", "expert_comment")


def reply_secret(settings: Settings) -> bytes:
    """The secret that signs reply tokens (jcbot.secret.app_secret)."""
    return app_secret(settings)


def _split(address: str, setting: str, plus: bool = False) -> tuple[str, str]:
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain or ("+" in local and not plus):
        raise ValueError(f"{setting}: {address!r} must be local@domain" +
                         ("" if plus else " without '+' (replies go to local+token@domain)"))
    return local, domain


def message_id(secret: bytes, key: str, domain: str) -> str:
    """The Message-ID of a notice: the same key (a resend) gives the same id."""
    # Keyed with the secret: two installations sending from one domain never collide.
    digest = hmac.new(secret, b"message-id\x00" + key.encode("utf-8"), hashlib.sha256).hexdigest()[:32]
    kind = "".join(ch for ch in key.split(":", 1)[0] if ch.isalnum())[:20] or "notice"
    return f"<jcbot.{kind}.{digest}@{domain}>"


def distribution_key(version_id: int, handle: str) -> str:
    """The notice key of a member's distribution (as jcbot.services.notices makes it)."""
    return f"distribution:{version_id}:{handle}"


class EmailRenderer:
    """Renders notices as emails (one per recipient with an email address)."""

    channel = "email"

    def __init__(self, settings: Settings, *, strict: bool = False, engine: Any = None) -> None:
        self.settings = settings
        self.engine = engine  # where documents stored in the database are read (attachments)
        self.mail_from = settings.mail_from
        self.reply_local, self.reply_domain = _split(settings.reply_address, "JCBOT_REPLY_ADDRESS")
        self.domain = _split(settings.mail_from, "JCBOT_MAIL_FROM", plus=True)[1]
        self.strict = strict
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir(settings) / "email")), autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined if strict else ChainableUndefined, trim_blocks=True, lstrip_blocks=True,
            keep_trailing_newline=True,
            # Templates are read once: no stat of every template file at each email (restart to change them).
            auto_reload=False,
        )
        self.env.filters["when"] = local_time
        # The shipped templates, shown by the tests to use a member's own texts as output only,
        # are rendered once per shape of a fan-out (jcbot.channels.email.shapes); others whole.
        self.shapes = None if settings.values.get("templates_dir") else Shapes(self._templates)
        self._secret: bytes | None = None

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = reply_secret(self.settings)
        return self._secret

    def token_address(self, proposal_id: int, version: int, member_id: int) -> str:
        """The reply address that carries one member's token for one proposal version."""
        token = make_token(self.secret, proposal_id, version, member_id)
        return reply_address(self.reply_local, self.reply_domain, token)

    def render(self, notice: Notice) -> list[Rendered]:
        """One email for the notice's recipient, or nothing if they have no email address."""
        to = outgoing.address("email", notice, self.settings)
        if not to:
            return []
        text = self.compose(notice)
        return [Rendered("email", to, email_payload(text, mail_from=self.mail_from, rcpt_to=[to]))]

    def for_outbox(self, message: Outgoing) -> dict[str, Any] | None:
        """What to send for an outbox message: {message, mail_from, rcpt_to}, or None if it reaches no one.

        Rendered now from the notice it holds (the Message-ID comes from the notice key,
        so a render after a crash gives the same id). A message queued by a jcbot that
        rendered inside the transaction already holds that shape and is sent as stored.
        """
        if not outgoing.is_notice(message.payload):
            return self._with_bounce_address(message.payload, message.id)
        rendered = self.render(outgoing.from_payload(message.payload))
        return self._with_bounce_address(rendered[0].payload, message.id) if rendered else None

    def bounce_address(self, message_id: int) -> str:
        """The envelope sender of one outbox message: its own bounce address (VERP), else JCBOT_MAIL_FROM."""
        # On the reply address's local part and domain: the mail system already routes
        # local+anything@domain to jcbot. The same message id gives the same address.
        return bounce_address(self.secret, self.reply_local, self.reply_domain, message_id) or self.mail_from

    def _with_bounce_address(self, payload: dict[str, Any], message_id: int) -> dict[str, Any]:
        # A report of a later failure comes back to the envelope sender, naming the message.
        if not isinstance(payload, dict) or not isinstance(payload.get("mail_from"), str):
            return payload
        return {**payload, "mail_from": self.bounce_address(message_id)}

    def _answer_to(self, notice: Notice) -> str | None:
        p, r = notice.data.get("proposal"), notice.recipient
        if notice.kind not in ANSWERABLE or r.member_id is None or not p or p.get("id") is None:
            return None
        if notice.kind == "refusal" and not notice.data.get("answerable"):
            return None  # only a member whose reply could not be read may try again
        return self.token_address(int(p["id"]), int(p["version"]), int(r.member_id))

    def context(self, notice: Notice, answer_to: str | None) -> dict[str, Any]:
        """The variables templates see."""
        data, r = notice.data, notice.recipient
        committee, proposal = data.get("committee"), data.get("proposal")
        zone = r.timezone or (committee or {}).get("timezone") or "UTC"
        deadline = deadline_lines(proposal.get("deadline"), r.timezone, committee.get("timezone") or "UTC") \
            if proposal and committee else []
        tag = f"[JC-{committee['code']}]" if committee and committee.get("code") else "[jcbot]"
        said = data.get("assertion") or {}
        in_period = bool(said.get("within_period"))  # the core's judgement, carried by the notice
        actions = self._action_links(notice) if notice.kind == "escalation" else []
        docs, files = self._documents(notice)
        return {**data, "kind": notice.kind, "documents": docs, "files": files, "data": data, "recipient": r, "committee": committee, "actions": actions,
                "proposal": proposal, "zone": zone, "deadline": deadline, "answer_to": answer_to, "tag": tag,
                "in_period": in_period, "forms": accepted_forms_text(),
                "public_url": (self.settings.public_url or "").rstrip("/")}

    def _documents(self, notice: Notice) -> tuple[list[dict[str, Any]], list[tuple[dict, bytes]]]:
        """The notice's documents as shown (with the recipient's links), and those attached with their bytes."""
        docs = attachments.shown(self.settings, self.secret, notice.data, notice.recipient,
                                 attach=notice.kind == "distribution")
        files = []
        for d in docs:
            if not d["attached"]:
                continue
            try:
                files.append((d, self._content(d["sha256"])))
            except DocumentUnavailable as exc:
                # Never attach bytes that are not the hash members assert on: the link stays, and
                # the download refuses the same bytes until the secretariat restores them.
                log.error("email: %s not attached to %s: %s", d["name"], notice.key, exc)
                d["attached"] = False
        return docs, files

    def _content(self, sha256: str) -> bytes:
        """A document's bytes, re-hashed (DocumentUnavailable if missing or altered)."""
        from sqlmodel import select

        from jcbot.services import documents
        from jcbot.store.blobs import BlobError
        from jcbot.store.db import read_scope
        from jcbot.store.documents import Document

        if self.engine is None:
            try:  # no database at hand: the default file store needs none
                return documents.blobs_for(self.settings, "files").read(None, sha256)  # type: ignore[arg-type]
            except BlobError as exc:
                raise DocumentUnavailable(str(exc)) from None
        with read_scope(self.engine) as session:
            doc = session.exec(select(Document).where(Document.sha256 == sha256)).first()
            if doc is None:
                raise DocumentUnavailable(f"no document {sha256}")
            return documents.content(session, self.settings, doc)

    def _action_links(self, notice: Notice) -> list[tuple[str, str]]:
        """Signed links to the co-chairs' confirmation pages (jcbot.actionlinks)."""
        p, r = notice.data.get("proposal"), notice.recipient
        said = notice.data.get("assertion") or {}
        if not p or r.member_id is None or said.get("ignored") or not self.settings.public_url:
            return []
        from jcbot.actionlinks import ACTIONS, action_url

        return [(label, action_url(self.settings.public_url, self.secret, p["ref"], int(p["version"]), r.handle, a))
                for a, label in ACTIONS.items()]

    def _render(self, kind: str, values: dict[str, Any]) -> tuple[str, str, str]:
        subject, body, html = (self.shapes.render if self.shapes else self._templates)(kind, values)
        # Templates stay readable with blank lines around blocks; the email gets at most one.
        body = re.sub(r"\n{3,}", "\n\n", body).lstrip("\n")
        return " ".join(subject.split()), body, html

    def _templates(self, kind: str, values: dict[str, Any]) -> tuple[str, str, str]:
        """The subject block, text and HTML templates of `kind` rendered with `values`, as they come."""
        text = self.env.get_template(f"{kind}.txt")
        subject = "".join(text.blocks["subject"](text.new_context(values)))
        return subject, text.render(values), self.env.get_template(f"{kind}.html").render(values)

    def _parts(self, notice: Notice, answer_to: str | None) -> tuple[str, str, str, dict[str, Any], bytes | None]:
        """Subject, text, HTML, the template values and the .ics (distribution, reminder) of a notice."""
        values = self.context(notice, answer_to)
        subject, text, html = self._render(notice.kind if notice.kind in KINDS else "digest", values)
        p, c = values["proposal"], values["committee"]
        ics = deadline_ics(p, c, self.domain, answer_to) \
            if notice.kind in ("distribution", "reminder") and p and p.get("deadline") and c else None
        return subject, text, html, values, ics

    def _generic(self, notice: Notice) -> tuple[str, str, str, dict[str, Any], None]:
        p = notice.data.get("proposal") or {}
        about = f"{p.get('ref')}: {p.get('title')}" if p.get("ref") else ""
        kind = notice.kind.replace("_", " ")
        data = {"lines": [f"A {kind} notice{' about ' + about if about else ''}; its details could not be "
                          "shown here. The secretariat can tell you more."],
                "subject": f"[jcbot] {kind.capitalize()}{': ' + about if about else ''}"}
        values = {"data": data, "recipient": notice.recipient, "committee": None, "proposal": None,
                  "public_url": (self.settings.public_url or "").rstrip("/")}
        subject, text, html = self._render("digest", values)
        return subject, text, html, values, None

    def compose(self, notice: Notice) -> str:
        """The email of a notice as RFC 5322 text (CRLF), with its headers, text and HTML parts (and .ics for a distribution).

        Written by jcbot.channels.email.mime: the text EmailMessage(policy=WIRE) gives for
        these headers, set_content(text), add_alternative(html), add_attachment(...) per
        file and the boundaries derived from the notice key.
        """
        return write(*self.draft(notice))

    def draft(self, notice: Notice) -> tuple[Draft, tuple[str, str], tuple[str, ...]]:
        """The pieces of a notice's email: headers and parts, the MIME boundaries, and their varying token."""
        try:
            answer_to = self._answer_to(notice)
            subject, text, html, values, ics = self._parts(notice, answer_to)
        except Exception:
            if self.strict:
                raise
            # A template or data bug must not stop the change that caused the notice (an
            # adoption...): the email goes out in the generic form and the log says why.
            log.exception("email: cannot render %s notice %s; sending the generic form", notice.kind, notice.key)
            answer_to = None
            subject, text, html, values, ics = self._generic(notice)
        mid = message_id(self.secret, notice.key, self.domain)
        headers: list[tuple[str, Any]] = [
            ("From", ((values["committee"] or {}).get("name") or "jcbot", self.mail_from)),
            ("To", (notice.recipient.name or "", notice.recipient.email)),
            ("Subject", subject),
            ("Message-ID", mid),
        ]
        varying = {"Message-ID": _digests(mid)}
        refs = self._thread(notice)
        if refs:
            headers += [("In-Reply-To", refs[-1]), ("References", " ".join(refs))]
            varying["In-Reply-To"] = _digests(refs[-1])
            varying["References"] = _digests(" ".join(refs))
        if answer_to:
            headers.append(("Reply-To", answer_to))
            varying["Reply-To"] = tuple(t for t in (answer_to.partition("+")[2].partition("@")[0],) if t)
        # RFC 3834: marks the mail as automatic so responders do not answer it.
        headers.append(("Auto-Submitted", "auto-replied" if notice.kind == "refusal" else "auto-generated"))
        headers.append(("X-Auto-Response-Suppress", "OOF, AutoReply"))  # Exchange: no out-of-office replies to jcbot
        headers.append(("X-Jcbot-Notice", notice.kind))
        files = []
        for doc, data in values.get("files") or []:
            maintype, _, subtype = doc["media_type"].partition("/")
            files.append(Attachment(data, maintype, subtype or "octet-stream", doc["name"]))
        if ics is not None:
            name = f"{values['proposal']['ref']}-deadline.ics"
            files.append(Attachment(ics, "text", "calendar", name, (("method", "PUBLISH"), ("charset", "utf-8"))))
        # MIME boundaries from the notice key, so a render after a crash is byte for byte the
        # same message. "=_" never occurs in base64 or quoted-printable bodies (where "=" is
        # always "=3D" or a soft break), so these boundaries cannot collide with the content.
        seed = hmac.new(self.secret, b"boundary\x00" + notice.key.encode("utf-8"), hashlib.sha256).hexdigest()[:24]
        boundaries = (f"=_jcbot_{seed}_0", f"=_jcbot_{seed}_1")
        return Draft(headers, text, html, files, varying), boundaries, (seed,)

    def _thread(self, notice: Notice) -> list[str]:
        """The ids this notice answers (In-Reply-To is the last): the member's distribution, their own message."""
        p = notice.data.get("proposal")
        refs: list[str] = []
        if notice.kind != "distribution" and p and p.get("version_id") is not None and notice.recipient.member_id:
            root = distribution_key(p["version_id"], notice.recipient.handle)
            refs.append(message_id(self.secret, root, self.domain))
        if notice.data.get("in_reply_to"):
            refs.append(notice.data["in_reply_to"])  # a refusal answers the member's own message
        return refs


def _digests(ids: str) -> tuple[str, ...]:
    """The digests of jcbot's own Message-IDs in a header value (the part that differs per message)."""
    return tuple(m.group(1) for m in re.finditer(r"<jcbot\.[A-Za-z0-9]*\.([0-9a-f]{32})@", ids))


# rendered(ready=...) when nothing was rendered ahead.
NOT_RENDERED: Any = object()


async def rendered(renderer: EmailRenderer | None, message: Outgoing, ready: Any = NOT_RENDERED) -> dict[str, Any]:
    """The {message, mail_from, rcpt_to} to send for an email outbox message; PermanentFailure if none.

    `ready`: what renderer.for_outbox already gave for this message (rendered ahead), if it did.
    """
    if message.channel != "email":
        raise PermanentFailure(f"outbox message {message.id} is not an email")
    if renderer is None:
        if outgoing.is_notice(message.payload):
            raise PermanentFailure(f"outbox message {message.id} holds a notice and this sender has no renderer")
        payload = message.payload
    elif ready is not NOT_RENDERED:
        payload = ready
    else:
        # Jinja and MIME take a millisecond: off the event loop, which also answers Slack and HTTP.
        payload = await asyncio.to_thread(renderer.for_outbox, message)
    if payload is None:
        raise PermanentFailure(f"outbox message {message.id}: the {message.kind} notice reaches no email address "
                               "now (the recipient has none); nothing was sent")
    return payload
