"""jcbot's own mail listener: the organisation's MTA hands replies over LMTP (or SMTP).

Thin: each message goes to `inbound.handle_message` in the service context's pool of
database threads (services are synchronous) and is answered 250 once handled, recorded, refused or ignored.
Only a transient cause (the database unavailable, or no answer within JCBOT_INBOUND_TIMEOUT)
answers 451 so the MTA keeps the message and tries again: a reply is never lost. Any other
failure is final (554): retrying would fail the same way until the MTA gives up. A reply
is dated by the Received header of a trusted MTA (JCBOT_TRUSTED_RECEIVED_BY) when there
is one: the MTA may have queued it while jcbot was down.

The servers are aiosmtpd's, with one change: the address of MAIL FROM and RCPT TO in
its usual form (`<dot-atom@dot-atom>`, then nothing or its parameters after one space)
is read by a pattern. aiosmtpd makes a class and runs the email package's header parser
for each (about 95 us, two per reply: a fifth of the listener's event loop); any other
form still goes to aiosmtpd's reader, and both give the same (address, parameters).
"""
from __future__ import annotations

import asyncio
import logging
import re

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from jcbot.channels.email.inbound import InboundResult, receive, transient
from jcbot.services.context import ServiceContext

log = logging.getLogger(__name__)
TEMPORARY = "451 4.3.0 jcbot could not take the message now; try again later"
PERMANENT = "554 5.6.0 jcbot cannot handle this message; nothing was recorded"


# RFC 5322 atext (ASCII); dot-atom is atext runs joined by single dots.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATEXT}(?:\.{_ATEXT})*"
# After '>': nothing, or one space and parameters that do not start with folding white space or a comment.
_PLAIN_ADDRESS = re.compile(rf"<({_DOT_ATOM})@({_DOT_ATOM})>(?: ([^\s(].*))?", re.DOTALL)


class _PlainAddresses:
    """aiosmtpd's `_getaddr` for the usual `<local@domain> PARAMS`, by a pattern; anything else by aiosmtpd."""

    local_part_limit: int

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # "=?" may open an encoded word, which aiosmtpd's parser would decode.
        plain = _PLAIN_ADDRESS.fullmatch(arg) if "=?" not in arg else None
        if plain is None:
            return super()._getaddr(arg)  # type: ignore[misc]
        local, domain, rest = plain.groups()
        if self.local_part_limit and len(local) > self.local_part_limit:
            return None, None
        return f"{local}@{domain}", rest or ""


class ListenerLMTP(_PlainAddresses, LMTP):
    """aiosmtpd's LMTP server, reading plain envelope addresses by a pattern."""


class ListenerSMTP(_PlainAddresses, SMTP):
    """aiosmtpd's SMTP server, reading plain envelope addresses by a pattern."""


class ReplyHandler:
    """aiosmtpd handler: every message accepted for delivery is one call of handle_message."""

    def __init__(self, ctx: ServiceContext, protocol: str) -> None:
        self.ctx = ctx
        self.protocol = protocol

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        # The MTA decides what is routed here; which reply address it is, the token says.
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        try:
            result = await asyncio.wait_for(self.ctx.run(self._handle, raw, tuple(envelope.rcpt_tos)),
                                            self.ctx.settings.inbound_timeout)
        except Exception as exc:
            # Only a cause that may pass (the database down or too slow) is worth the MTA's
            # retries; any other would fail the same way on every delivery: a final 5xx.
            if transient(exc):
                log.exception("email via %s: cannot handle a message from %s now", self.protocol, envelope.mail_from)
                status = TEMPORARY
            else:
                log.exception("event=email.received channel=email via=%s outcome=failed sender=%r",
                              self.protocol, envelope.mail_from)
                status = PERMANENT
        else:
            status = f"250 2.0.0 {result.outcome}"
        if self.protocol == "lmtp":
            # LMTP answers DATA once per accepted recipient (RFC 2033 4.2); aiosmtpd sends
            # only the returned line, so the others are pushed here. One message, one outcome.
            for _ in envelope.rcpt_tos[1:]:
                await server.push(status)
        return status

    def _handle(self, raw: bytes, rcpt_tos: tuple[str, ...]) -> InboundResult:
        # The envelope goes along: a delivery report may name its bounce address only in RCPT TO.
        return receive(self.ctx, raw, via=self.protocol, envelope=rcpt_tos)


class ReplyListener(Controller):
    """A threaded aiosmtpd server speaking LMTP or SMTP; port 0 picks a free port."""

    def __init__(self, ctx: ServiceContext, host: str, port: int, protocol: str = "lmtp") -> None:
        if protocol not in ("lmtp", "smtp"):
            raise ValueError(f"JCBOT_INBOUND_PROTOCOL: expected lmtp or smtp, got {protocol!r}")
        self.protocol = protocol
        super().__init__(ReplyHandler(ctx, protocol), hostname=host, port=port, server_hostname="jcbot",
                         data_size_limit=25 * 1024 * 1024)

    def factory(self) -> SMTP:
        cls = ListenerLMTP if self.protocol == "lmtp" else ListenerSMTP
        return cls(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # With port 0 the kernel chose the port: learn it before aiosmtpd's self-check.
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def start_listener(ctx: ServiceContext, host: str | None = None, port: int | None = None,
                   protocol: str | None = None) -> ReplyListener:
    """Start the listener (settings JCBOT_INBOUND_LMTP_HOST/PORT/PROTOCOL unless given); `.stop()` ends it."""
    s = ctx.settings
    listener = ReplyListener(ctx, host or s.inbound_lmtp_host or "127.0.0.1",
                             s.inbound_lmtp_port if port is None else port, protocol or s.inbound_protocol)
    listener.start()
    log.info("email: %s listener on %s:%s", listener.protocol.upper(), listener.hostname, listener.port)
    return listener
