"""200 concurrent Affirm clicks: jcbot's ack latency and time to record, against a bare slack-bolt app that only acks.

`jcbot serve` runs as a subprocess on SQLite with Slack over HTTP, its Web API pointed at
the tests' fake Slack (tests/support/fake_slack.py, in a process of its own so that its
work does not share the client's interpreter). A committee of M members and P proposals is
distributed; once every DM is at the fake, each member clicks Affirm on each proposal's DM
(the blocks Slack would send with the click, read back from the fake), all M x P requests
signed with the signing secret and sent together with httpx.AsyncClient. Measured: each
request's time to its HTTP answer (the ack), and from the last ack until every click is an
assertion in the database. Baseline in the same run: the bare slack-bolt AsyncApp behind
uvicorn of bench/bare.py, its listener only acking, the same requests the same way.

`measure_popups` (python -m bench --only popup): the same M x P clicks on Object..., which
must open the pop-up (views.open) while Slack's trigger_id is fresh: the member sees
nothing if it comes more than 3 s after the click, and the target is 1 s. Measured: from
each click's send to the fake Web API receiving that click's views.open (the fake records
each call's arrival on CLOCK_MONOTONIC, which the client reads too); baseline the bare app
opening the same pop-up from its listener.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
from slack_sdk.signature import SignatureVerifier

from bench import bare, committee
from jcbot.app import build_context
from jcbot.settings import load_settings

SIGNING_SECRET = "bench-signing-secret-0123456789ab"
TOKEN = "xoxb-bench"
TEAM = {"id": "T0JCMTEST1", "domain": "jcm-test"}
ROOT = Path(__file__).resolve().parents[1]
_FAKE = """\
import json, sys
from tests.support.fake_slack import FakeSlack
fake = FakeSlack()
fake.start()
print(fake.base_url, flush=True)
for line in sys.stdin:  # a Web API method: each call's trigger_id and arrival, as one JSON line
    print(json.dumps([[c.body.get("trigger_id"), c.at] for c in fake.calls(line.strip())]), flush=True)
fake.stop()
"""


@dataclass(frozen=True)
class Acks:
    latencies_s: list[float]  # each request: sent -> HTTP answer
    all_s: float  # first request sent -> last answer
    sent_at: tuple[float, ...] = ()  # each request's send, time.monotonic(), in the order of the bodies
    # The server process's CPU (every thread) from the first send to the last answer: what the
    # acks cost it, less swayed than the latencies by other load on a shared machine.
    cpu_s: float | None = None

    @property
    def p50_s(self) -> float:
        return _percentile(self.latencies_s, 50)

    @property
    def p99_s(self) -> float:
        return _percentile(self.latencies_s, 99)


@dataclass(frozen=True)
class SlackResult:
    clicks: int
    jcbot: Acks
    recorded_after_last_ack_s: float  # last ack -> every click an assertion in the database
    bare: Acks

    @property
    def p99_ratio(self) -> float:
        return self.jcbot.p99_s / self.bare.p99_s

    @property
    def cpu_ratio(self) -> float | None:
        j, b = self.jcbot.cpu_s, self.bare.cpu_s
        return j / b if j is not None and b else None


@dataclass(frozen=True)
class Popups:
    """One app's Object... clicks: each click's send -> its views.open at the fake Web API."""

    delays_s: list[float]
    acks: Acks

    @property
    def p50_s(self) -> float:
        return _percentile(self.delays_s, 50)

    @property
    def p99_s(self) -> float:
        return _percentile(self.delays_s, 99)

    @property
    def within_1s(self) -> int:
        return sum(d <= 1.0 for d in self.delays_s)


@dataclass(frozen=True)
class PopupResult:
    clicks: int
    jcbot: Popups
    bare: Popups
    floor: Acks  # the same requests to a server that answers at once: what the client itself takes

    @property
    def p99_ratio(self) -> float:
        return self.jcbot.p99_s / self.bare.p99_s


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _click(user: str, action_id: str, blocks: list, seq: int, trigger: str = "trigger") -> str:
    """The form body Slack posts when `user` clicks `action_id` in the DM showing `blocks` (trigger_id TRIGGER-SEQ)."""
    container = {"type": "message", "channel_id": f"D{user}", "message_ts": "1700000000.000001", "is_ephemeral": False}
    payload = {"type": "block_actions", "team": TEAM, "user": {"id": user, "team_id": TEAM["id"]},
               "api_app_id": "A0JCBOT", "trigger_id": f"{trigger}-{seq}", "container": container,
               "channel": {"id": f"D{user}"}, "message": {"type": "message", "ts": "1700000000.000001", "blocks": blocks},
               "response_url": f"http://127.0.0.1:9/response/{seq}",
               "actions": [{"type": "button", "action_id": action_id, "block_id": "jc_actions",
                            "action_ts": f"1700000100.{seq:06d}"}]}
    return urlencode({"payload": json.dumps(payload)})


def _signed(body: str) -> dict[str, str]:
    ts = str(int(time.time()))
    return {"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": ts,
            "x-slack-signature": SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)}


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """Send one prepared HTTP/1.1 request on an open connection; the status, once the whole answer is read."""
    writer.write(request)
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


def _cpu_s(pid: int | None) -> float | None:
    """The CPU time (user and system, every thread) process `pid` has used, from /proc (None elsewhere)."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


async def _fire(url: str, bodies: list[str], pid: int | None = None) -> Acks:
    """Post every body at once, each on a connection opened beforehand; the time of each answer
    (and the CPU the server process `pid` used from the first send to the last answer).

    A plain asyncio client with the requests prepared in advance (signed, encoded): what a
    click costs the client is a write and a read, so the figures are the server's, not an
    HTTP library's (httpx took 1.2-1.3 s at p99 for the same burst to a server answering
    at once, on this machine).
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    async with httpx.AsyncClient(timeout=60) as client:
        # One request first, answered by neither app's listener: bolt's first request asks
        # auth.test, which is not what is measured.
        warm = _click("U0WARMUP", "bench.warmup", [], 0)
        await client.post(url, content=warm.encode(), headers=_signed(warm))
    requests = []
    for body in bodies:
        content = body.encode()
        head = {"Host": f"{host}:{port}", "Content-Length": str(len(content)), "Connection": "close", **_signed(body)}
        requests.append(f"POST {parts.path} HTTP/1.1\r\n".encode()
                        + "".join(f"{k}: {v}\r\n" for k, v in head.items()).encode() + b"\r\n" + content)
    connections = await asyncio.gather(*(asyncio.open_connection(host, port) for _ in requests))
    sent_at = [0.0] * len(requests)

    async def one(i: int) -> float:
        reader, writer = connections[i]
        sent_at[i] = time.monotonic()
        t = time.perf_counter()
        try:
            status = await asyncio.wait_for(_post(reader, writer, requests[i]), 60)
        finally:
            writer.close()
        if status != 200:
            raise RuntimeError(f"a click was answered {status}")
        return time.perf_counter() - t

    cpu, start = _cpu_s(pid), time.perf_counter()
    latencies = await asyncio.gather(*(one(i) for i in range(len(requests))))
    end, cpu_end = time.perf_counter(), _cpu_s(pid)
    used = cpu_end - cpu if cpu is not None and cpu_end is not None else None
    return Acks(list(latencies), end - start, tuple(sent_at), used)


def _wait_http(proc: subprocess.Popen, url: str, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the process exited with {proc.returncode} before answering {url}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > end:
                raise RuntimeError(f"{url} did not answer within {timeout}s") from None
            time.sleep(0.1)


def _until(check, timeout: float, what: str) -> float:
    """Poll `check` every 5 ms until true; the perf_counter instant it was seen true."""
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.005)
    return time.perf_counter()


# One read-only connection per database, kept open while the bench polls it: a connection
# opened for every poll cost this process CPU that the measured server, on the same two
# cores, went without.
_READERS: dict[Path, sqlite3.Connection] = {}


def _count(db: Path, sql: str) -> int:
    if db not in _READERS:
        _READERS[db] = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    return _READERS[db].execute(sql).fetchone()[0]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _dms(api_url: str, jc: committee.Committee) -> dict[tuple[str, str], list]:
    """(Slack user, ref) -> the blocks of the distribution DM the fake received for them."""
    out = {}
    for seat in jc.seats:
        answer = httpx.post(api_url + "conversations.history", data={"channel": seat.slack_user, "limit": 1000},
                            headers={"authorization": f"Bearer {TOKEN}"}).json()
        for message in answer["messages"]:
            for b in message.get("blocks") or []:
                for e in b.get("elements") or []:
                    action = str(e.get("action_id", ""))
                    if action.startswith("jc.affirm|"):
                        out[(seat.slack_user, action.split("|")[1])] = message["blocks"]
    return out


# The floor of the measurement: a server (its own process, as the apps) that reads each
# request and answers 200 at once, so the client's own cost of sending the burst shows.
_NOTHING = """\
import asyncio, sys

async def answer(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\\r\\n\\r\\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\\r\\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\\r\\ncontent-length: 0\\r\\n\\r\\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()

async def main():
    server = await asyncio.start_server(answer, "127.0.0.1", 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"""


def _floor(bodies: list[str]) -> Acks:
    """The same requests, sent the same way, to a server that answers at once."""
    proc = subprocess.Popen([sys.executable, "-c", _NOTHING], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        return asyncio.run(_fire(f"http://127.0.0.1:{port}/slack/events", bodies))
    finally:
        _stop(proc)


class _Fake:
    """The fake Web API in a process of its own: its URL, and the arrival of each call of a method."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", _FAKE], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.api_url = self.proc.stdout.readline().strip()

    def arrivals(self, method: str) -> dict[str, float]:
        """trigger_id -> when the fake received the call of `method` carrying it (time.monotonic())."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(method + "\n")
        self.proc.stdin.flush()
        return {trigger: at for trigger, at in json.loads(self.proc.stdout.readline()) if trigger}

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@dataclass
class _Served:
    """`jcbot serve` with a distributed committee, every DM at the fake; the bare app spawned on demand."""

    storage: Path
    fake: _Fake
    jc: committee.Committee
    db: Path
    url: str
    dms: dict[tuple[str, str], list]
    procs: list[subprocess.Popen]

    def bodies(self, verb: str, trigger: str) -> list[str]:
        """One click on `verb` by each member on each proposal's DM."""
        return [_click(s.slack_user, f"jc.{verb}|{ref}|1", self.dms[(s.slack_user, ref)], i * len(self.jc.seats) + j + 1,
                       trigger) for i, (ref, _) in enumerate(self.jc.proposals) for j, s in enumerate(self.jc.seats)]

    def bare(self, bodies: list[str]) -> Acks:
        """The same clicks to the bare slack-bolt app, started for them and stopped after."""
        port = _free_port()
        self.procs.append(bare.spawn(self.storage, port, SIGNING_SECRET, api_url=self.fake.api_url, token=TOKEN))
        try:
            _wait_http(self.procs[-1], f"http://127.0.0.1:{port}/slack/events")
            return asyncio.run(_fire(f"http://127.0.0.1:{port}/slack/events", bodies, self.procs[-1].pid))
        finally:
            _stop(self.procs.pop())


@contextlib.contextmanager
def _serve(storage: Path, members: int, proposal_count: int) -> Iterator[_Served]:
    fake = _Fake()
    procs: list[subprocess.Popen] = []
    try:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("JCBOT_")} | {
            "JCBOT_STORAGE_DIR": str(storage), "JCBOT_SECRET": "bench-secret-0123456789",
            "JCBOT_HTTP_PORT": str(port), "JCBOT_LOG_LEVEL": "WARNING", "JCBOT_SWEEP_INTERVAL": "3600",
            "JCBOT_SLACK_BOT_TOKEN": TOKEN, "JCBOT_SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "JCBOT_SLACK_API_URL": fake.api_url}
        ctx = build_context(load_settings(env=env, dotenv=None))
        jc = committee.build(ctx, members, proposal_count, email=False)
        ctx.close()
        db = storage / "jcbot.sqlite"

        procs.append(subprocess.Popen([sys.executable, "-m", "jcbot", "serve"], env=env, cwd=storage,
                                      stdout=subprocess.DEVNULL, stderr=(storage / "serve.log").open("wb")))
        _wait_http(procs[-1], f"http://127.0.0.1:{port}/healthz")
        # Every distribution DM at the fake before the clicks: the dispatcher is quiet when they come.
        _until(lambda: _count(db, "SELECT count(*) FROM outbox_message WHERE status != 'sent'") == 0, 300,
               "the distribution DMs")
        yield _Served(storage, fake, jc, db, f"http://127.0.0.1:{port}/slack/events", _dms(fake.api_url, jc), procs)
    finally:
        for proc in procs:
            _stop(proc)
        fake.close()
        reader = _READERS.pop(storage / "jcbot.sqlite", None)
        if reader is not None:
            reader.close()


def measure(storage: Path, members: int = 20, proposal_count: int = 10) -> SlackResult:
    """`members` x `proposal_count` concurrent Affirm clicks to `jcbot serve`, then to the bare app."""
    with _serve(storage, members, proposal_count) as served:
        bodies = served.bodies("affirm", "trigger")
        bare_acks = served.bare(bodies)
        acks = asyncio.run(_fire(served.url, bodies, served.procs[0].pid))
        last_ack = time.perf_counter()  # _fire returns right after the last answer
        recorded = _until(lambda: _count(served.db, "SELECT count(*) FROM assertion WHERE channel = 'slack'")
                          >= len(bodies), 300, "every click recorded")
        return SlackResult(len(bodies), acks, recorded - last_ack, bare_acks)


def _popups(fake: _Fake, trigger: str, bodies: list[str], acks: Acks, timeout: float = 60) -> Popups:
    """Each click's delay from its send to its views.open at the fake (waits until all arrived)."""
    wanted = [f"{trigger}-{i}" for i in range(1, len(bodies) + 1)]
    end = time.monotonic() + timeout
    while True:
        arrived = fake.arrivals("views.open")
        if all(t in arrived for t in wanted):
            break
        if time.monotonic() > end:
            missing = sum(t not in arrived for t in wanted)
            raise RuntimeError(f"{trigger}: {missing} of {len(wanted)} clicks never got their views.open")
        time.sleep(0.05)
    return Popups([arrived[t] - sent for t, sent in zip(wanted, acks.sent_at)], acks)


def measure_popups(storage: Path, members: int = 20, proposal_count: int = 10) -> PopupResult:
    """`members` x `proposal_count` concurrent Object... clicks: click -> views.open, jcbot serve and the bare app."""
    with _serve(storage, members, proposal_count) as served:
        bare_bodies = served.bodies("object", "bare")
        bare_popups = _popups(served.fake, "bare", bare_bodies, served.bare(bare_bodies))
        bodies = served.bodies("object", "jcbot")
        popups = _popups(served.fake, "jcbot", bodies, asyncio.run(_fire(served.url, bodies)))
        return PopupResult(len(bodies), popups, bare_popups, _floor(bodies))
