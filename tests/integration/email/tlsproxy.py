"""TLS for the email tests: a throwaway certificate for 127.0.0.1 and a TLS front for the test Dovecot.

The session's Dovecot speaks plain IMAP; `TlsFront` accepts TLS (implicit, or after an
IMAP STARTTLS it answers itself) and relays the bytes to it, so jcbot's poller is
tested against a real handshake with certificate checks.
"""
from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from pathlib import Path


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate (and key) for 127.0.0.1, made with openssl."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


class TlsFront:
    """A TLS listener on 127.0.0.1 relaying to a plain IMAP server; `starttls` answers STARTTLS first."""

    def __init__(self, target: tuple[str, int], context: ssl.SSLContext, starttls: bool = False) -> None:
        self.target, self.context, self.starttls = target, context, starttls
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def __aenter__(self) -> TlsFront:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0,
                                                 ssl=None if self.starttls else self.context)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        greeting = await up_reader.readline()
        if self.starttls:
            writer.write(b"* OK test front ready\r\n")
            while True:  # answer CAPABILITY until the client asks for TLS
                tag, _, command = (await reader.readline()).partition(b" ")
                verb = command.strip().upper()
                if verb == b"CAPABILITY":
                    writer.write(b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n" + tag + b" OK done\r\n")
                elif verb == b"STARTTLS":
                    writer.write(tag + b" OK Begin TLS negotiation now\r\n")
                    await writer.drain()
                    break
                else:
                    writer.write(tag + b" BAD STARTTLS first\r\n")
                await writer.drain()
            await writer.start_tls(self.context)
        else:
            writer.write(greeting)
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
