"""Replies from an IMAP mailbox (aioimaplib): fetch, handle, move to the done folder.

Every message in the polled folder is handled with `inbound.handle_message`, then
moved to JCBOT_INBOUND_IMAP_DONE_FOLDER. A message whose handling raised for a transient
cause (the database) stays where it is and is tried again at the next poll; any other
failure is logged and the message moved too; a message handled twice (moved, but the
move was not confirmed) is recorded once, because assertions dedupe on Message-ID.
"""
from __future__ import annotations

import asyncio
from datetime import datetime
import re
import logging
import ssl

import aioimaplib
from aioimaplib.aioimaplib import Command

from jcbot.channels.email.inbound import handle_message, transient
from jcbot.services.context import ServiceContext

log = logging.getLogger(__name__)
TIMEOUT = 30.0


class ImapError(RuntimeError):
    """The IMAP server refused a command jcbot needs."""


def _ok(response, what: str):
    if response.result != "OK":
        detail = b" ".join(bytes(line) for line in response.lines).decode("utf-8", "replace")
        raise ImapError(f"IMAP {what}: {response.result} {detail}")
    return response


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def _starttls(client: aioimaplib.IMAP4, host: str) -> None:
    # aioimaplib has no STARTTLS of its own: send the command, then upgrade the transport.
    protocol = client.protocol
    _ok(await protocol.execute(Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)), "STARTTLS")
    loop = asyncio.get_running_loop()
    protocol.transport = await loop.start_tls(protocol.transport, protocol, ssl.create_default_context(),
                                              server_hostname=host)
    await protocol.capability()  # capabilities may differ once encrypted (RFC 3501 6.2.1)


async def connect(ctx: ServiceContext) -> aioimaplib.IMAP4:
    """A logged-in client for the configured mailbox (JCBOT_INBOUND_IMAP_*)."""
    s = ctx.settings
    if not s.inbound_imap_host:
        raise ValueError("JCBOT_INBOUND_IMAP_HOST is not set: there is no mailbox to poll")
    if s.inbound_imap_security == "tls":
        client = aioimaplib.IMAP4_SSL(s.inbound_imap_host, s.inbound_imap_port, timeout=TIMEOUT)
    else:
        client = aioimaplib.IMAP4(s.inbound_imap_host, s.inbound_imap_port, timeout=TIMEOUT)
    await client.wait_hello_from_server()
    if s.inbound_imap_security == "starttls":
        await _starttls(client, s.inbound_imap_host)
    _ok(await client.login(s.inbound_imap_user or "", s.inbound_imap_password or ""), "LOGIN")
    return client


async def ensure_folder(client: aioimaplib.IMAP4, name: str) -> None:
    """Create the folder unless it exists."""
    listed = _ok(await client.list('""', _quoted(name)), "LIST")
    if any(bytes(line).startswith(b"(") for line in listed.lines[:-1]):  # one "(flags) sep name" line per match
        return
    created = await client.create(_quoted(name))
    if created.result != "OK" and not any(b"ALREADYEXISTS" in bytes(line) for line in created.lines):
        _ok(created, f"CREATE {name}")


_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


async def _fetch(client: aioimaplib.IMAP4, uid: str) -> tuple[bytes, datetime | None] | None:
    response = _ok(await client.uid("fetch", uid, "(INTERNALDATE BODY.PEEK[])"), f"FETCH {uid}")
    # One message per FETCH, so its one literal is the message (aioimaplib gives literals as
    # bytearray), wherever the server puts the UID item.
    received = None
    for line in response.lines:
        found = _INTERNALDATE.search(bytes(line)) if not isinstance(line, bytearray) else None
        if found:
            received = _internaldate(found.group(1).decode("ascii", "replace"))
    for line in response.lines:
        if isinstance(line, bytearray):
            return bytes(line), received
    return None  # expunged meanwhile by another client


def _internaldate(text: str) -> datetime | None:
    """When the mail server received the message (IMAP INTERNALDATE), or None if unreadable."""
    try:
        return datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None


async def _move(client: aioimaplib.IMAP4, uid: str, folder: str) -> None:
    if client.has_capability("MOVE"):
        _ok(await client.uid("move", uid, _quoted(folder)), f"MOVE {uid}")
        return
    _ok(await client.uid("copy", uid, _quoted(folder)), f"COPY {uid}")
    _ok(await client.uid("store", uid, "+FLAGS.SILENT", r"(\Deleted)"), f"STORE {uid}")
    if client.has_capability("UIDPLUS"):
        _ok(await client.uid("expunge", uid), f"EXPUNGE {uid}")
    else:
        _ok(await client.expunge(), "EXPUNGE")


async def poll_once(ctx: ServiceContext) -> int:
    """Handle every message in the polled folder; return how many were handled and moved."""
    s = ctx.settings
    client = await connect(ctx)
    handled = 0
    try:
        await ensure_folder(client, s.inbound_imap_done_folder)
        _ok(await client.select(_quoted(s.inbound_imap_folder)), f"SELECT {s.inbound_imap_folder}")
        # ALL, not UNSEEN: handled messages leave the folder, and a message someone
        # opened in a mail client (now \Seen) must still count.
        found = _ok(await client.uid_search("ALL", charset=None), "SEARCH")
        uids = found.lines[0].decode().split() if found.lines and found.lines[0][:1].isdigit() else []
        for uid in uids:
            fetched = await _fetch(client, uid)
            if fetched is None:
                continue
            raw, received = fetched
            try:
                # The instant the server received the reply is when the member answered, not
                # when this poll ran: a reply at 23:59 on day N counts within the period.
                result = await ctx.run(handle_message, ctx, raw, via="imap", received_at=received,
                                       dated_by="INTERNALDATE")
            except Exception as exc:
                if transient(exc):
                    log.exception("email via imap: message UID %s left in %s for the next poll", uid,
                                  s.inbound_imap_folder)
                    continue
                # It would fail the same way at every poll: moved aside, never retried forever.
                log.exception("event=email.received channel=email via=imap uid=%s outcome=failed", uid)
                await _move(client, uid, s.inbound_imap_done_folder)
                continue
            await _move(client, uid, s.inbound_imap_done_folder)
            handled += 1
            log.debug("email via imap: UID %s %s", uid, result.outcome)
    finally:
        try:
            await client.logout()
        except Exception:  # noqa: BLE001 - the connection may already be gone; nothing to keep
            pass
    return handled


async def run_forever(ctx: ServiceContext, stop_event: asyncio.Event) -> None:
    """Poll every JCBOT_INBOUND_IMAP_INTERVAL seconds until `stop_event` is set."""
    interval = float(ctx.settings.inbound_imap_interval)
    while not stop_event.is_set():
        try:
            await poll_once(ctx)
        except Exception:
            log.exception("email via imap: poll failed; trying again in %.0f s", interval)
        try:
            await asyncio.wait_for(stop_event.wait(), timeout=interval)
        except TimeoutError:
            pass
