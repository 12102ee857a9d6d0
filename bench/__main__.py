"""`python -m bench`: every benchmark, printed as a short table with its ratio lines."""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench import assertions, cli_startup, deadline, dispatch, failover, lmtp, recovery, rss, slack, sweep
from bench.databases import DATABASES, Unavailable, database


NAMES = ("assertions", "sweep", "deadline", "failover", "recovery", "slack", "popup", "lmtp", "rss", "dispatch", "cli")


def main(argv: list[str] | None = None) -> int:
    """Run the assertion benchmark on each database and print the table; 0 unless one failed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("-n", type=int, default=500, help="assertions per database (default 500)")
    parser.add_argument("--db", action="append", choices=DATABASES, help="a database to run on (repeatable; default both)")
    parser.add_argument("--no-render", action="store_true", help="no channel renderers: no outbox rows are written")
    parser.add_argument("--only", choices=NAMES, action="append",
                        help="run only these benchmarks (repeatable; default all)")
    parser.add_argument("--sweep-rows", type=int, default=100_000, help="open proposals for the sweep benchmark")
    parser.add_argument("--open", type=int, default=1000, help="open proposals for the deadline benchmark")
    parser.add_argument("--rounds", type=int, default=3, help="leaders killed in the fail-over benchmark")
    parser.add_argument("--queued", type=int, default=300, help="emails queued in the recovery benchmark")
    parser.add_argument("--drain", type=int, default=500, help="emails queued in the dispatch throughput benchmark")
    parser.add_argument("--members", type=int, default=20, help="members clicking or replying (slack, popup, lmtp)")
    parser.add_argument("--proposals", type=int, default=10, help="proposals each member answers (slack, popup, lmtp)")
    parser.add_argument("--connections", type=int, default=4, help="LMTP connections delivering the replies")
    parser.add_argument("--cli-runs", type=int, default=9, help="runs of each command in the CLI start-up benchmark")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds idle before RSS is read")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("-n must be at least 1")
    only = set(args.only or NAMES)
    status = 0
    if "assertions" in only:
        status = _assertions(args)
    if "sweep" in only:
        _sweep(args)
    if "deadline" in only:
        _deadline(args)
    if "failover" in only:
        _failover(args)
    if "recovery" in only:
        _recovery(args)
    if "slack" in only:
        _slack(args)
    if "popup" in only:
        _popup(args)
    if "lmtp" in only:
        _lmtp(args)
    if "dispatch" in only:
        _dispatch(args)
    if "rss" in only:
        _rss(args)
    if "cli" in only:
        _cli(args)
    return status


def _cli(args) -> None:
    with tempfile.TemporaryDirectory(prefix="jcbot-bench-cli-") as storage:
        r = cli_startup.measure(Path(storage), runs=args.cli_runs)
    ms = 1000
    print(f"\nCLI start-up, a fresh process each time: median of {r.runs} runs vs `python -c pass` "
          f"({r.baseline_s * ms:.0f} ms) in the same run")
    for label, seconds in r.commands_s.items():
        target = cli_startup.TARGETS.get(label)
        name = f"jcbot {label}" if target else f"python -c '{label}'"
        print(f"{name:<26} {seconds * ms:>6.0f} ms  ratio {r.ratio(label):5.1f}"
              + (f" (target {target:g})" if target else " (no command: the database layer alone)"))


def _slack(args) -> None:
    with tempfile.TemporaryDirectory(prefix="jcbot-bench-slack-") as storage:
        r = slack.measure(Path(storage), args.members, args.proposals)
    ms = 1000
    print(f"\n{r.clicks} concurrent Affirm clicks ({args.members} members x {args.proposals} proposals), "
          "jcbot serve (SQLite) vs a bare slack-bolt app that only acks")
    print(f"jcbot: ack p50 {r.jcbot.p50_s * ms:.0f} ms, p99 {r.jcbot.p99_s * ms:.0f} ms, all acked in "
          f"{r.jcbot.all_s:.2f} s; last ack -> all {r.clicks} recorded: {r.recorded_after_last_ack_s:.2f} s")
    print(f"bare:  ack p50 {r.bare.p50_s * ms:.0f} ms, p99 {r.bare.p99_s * ms:.0f} ms, all acked in {r.bare.all_s:.2f} s")
    print(f"ratio ack p99 jcbot/bare = {r.p99_ratio:.2f}; all recorded {r.recorded_after_last_ack_s:.2f} s "
          f"after the last ack (bare acked all in {r.bare.all_s:.2f} s)")
    if r.cpu_ratio is not None:
        print(f"server CPU from the first click sent to the last ack: jcbot {r.jcbot.cpu_s * ms:.0f} ms, "
              f"bare {r.bare.cpu_s * ms:.0f} ms (ratio {r.cpu_ratio:.2f})")


def _popup(args) -> None:
    with tempfile.TemporaryDirectory(prefix="jcbot-bench-popup-") as storage:
        r = slack.measure_popups(Path(storage), args.members, args.proposals)
    ms = 1000
    print(f"\n{r.clicks} concurrent Object... clicks ({args.members} members x {args.proposals} proposals): click sent -> "
          "its views.open at the fake Slack API, jcbot serve (SQLite) vs a bare slack-bolt app opening the same pop-up")
    for name, p in (("jcbot", r.jcbot), ("bare", r.bare)):
        print(f"{name + ':':<6} views.open p50 {p.p50_s * ms:.0f} ms, p99 {p.p99_s * ms:.0f} ms, max "
              f"{max(p.delays_s) * ms:.0f} ms, {p.within_1s}/{r.clicks} within 1 s; ack p99 {p.acks.p99_s * ms:.0f} ms")
    print(f"floor: the same requests to a server that answers at once: ack p50 {r.floor.p50_s * ms:.0f} ms, "
          f"p99 {r.floor.p99_s * ms:.0f} ms (the client's own share)")
    print(f"ratio views.open p99 jcbot/bare = {r.p99_ratio:.2f} (target: p99 within 1 s)")


def _lmtp(args) -> None:
    with tempfile.TemporaryDirectory(prefix="jcbot-bench-lmtp-") as storage:
        r = lmtp.measure(Path(storage), args.members, args.proposals, args.connections)
    print(f"\n{r.replies} email replies over {r.connections} LMTP connections: jcbot's listener (SQLite) "
          "vs a bare aiosmtpd LMTP server answering 250")
    print(f"jcbot recorded {r.jcbot_per_s:.1f}/s ({r.jcbot_s:.2f} s); bare accepted {r.bare_per_s:.1f}/s ({r.bare_s:.2f} s)")
    print(f"ratio jcbot/bare = {r.ratio:.3f}")
    ms = 1000
    print(f"server process CPU per reply (the client is a process of its own): jcbot {r.jcbot_cpu_s / r.replies * ms:.2f} "
          f"ms, bare {r.bare_cpu_s / r.replies * ms:.2f} ms (ratio bare/jcbot {r.cpu_ratio:.3f})")
    for name, split in (("jcbot", r.jcbot_split), ("bare", r.bare_split)):
        if split is not None:
            loop, client, rest = split.per_reply_ms(r.replies)
            print(f"  {name:<5} event loop {loop:.2f} ms, the rest {rest:.2f} ms"
                  + (" (the database threads: reading, the intake)" if name == "jcbot" else "")
                  + f"; its client {client:.2f} ms")


def _rss(args) -> None:
    r = rss.measure(args.idle)
    mib = 1024
    print(f"\nidle RSS, {r.idle_s:g} s after the first answer: jcbot serve (SQLite, defaults) "
          f"{r.jcbot_kib / mib:.1f} MiB; bare slack-bolt + uvicorn {r.bare_kib / mib:.1f} MiB")
    print(f"ratio jcbot/bare = {r.ratio:.2f}; jcbot serve once its first page has loaded the pages and the API: "
          f"{r.jcbot_paged_kib / mib:.1f} MiB")


def _dispatch(args) -> None:
    with tempfile.TemporaryDirectory(prefix="jcbot-bench-dispatch-") as storage:
        r = dispatch.measure(Path(storage), queued=args.drain)
    fan = dispatch.median(r.fanout_s)
    print("\ndispatcher as jcbot serve runs it (SQLite, in-process), to aiosmtpd on 127.0.0.1")
    print(f"one proposal to 20 members: distribute returned -> all 20 at the SMTP server: median {fan:.3f} s, "
          f"worst {max(r.fanout_s):.3f} s over {len(r.fanout_s)} rounds "
          f"(raw aiosmtplib, the same 20 over one connection: {r.raw_fanout_s:.3f} s)")
    print(f"{r.queued} queued emails drained (each rendered at send time): {r.drain_s:.2f} s = "
          f"{r.queued / r.drain_s:.0f} msg/s; {r.connections} SMTP connections in the whole run "
          f"(raw aiosmtplib, the same messages already rendered, one reused connection: "
          f"{r.queued / r.raw_drain_s:.0f} msg/s)")
    print(f"process CPU per email (every thread, the in-process SMTP server's too): drain "
          f"{r.drain_cpu_s / r.queued * 1000:.2f} ms, raw {r.raw_drain_cpu_s / r.queued * 1000:.2f} ms")
    print(f"ceiling of rendering at send time: the same messages, each rendered by jcbot's email renderer just "
          f"before plain aiosmtplib sends it: {r.queued / r.render_drain_s:.0f} msg/s (ratio to raw "
          f"{r.render_ceiling:.2f}: no dispatcher rendering in this process can do better)")
    print(f"ratio fan-out/raw = {fan / r.raw_fanout_s:.1f} (target: all within 1 s); "
          f"throughput dispatcher/raw = {r.throughput_ratio:.2f} (target >= 0.8)")


def _recovery(args) -> None:
    r = recovery.measure(args.queued)
    print(f"\noutbox recovery after kill -9: jcbot serve (SQLite) with {r.messages} emails queued, killed halfway")
    print(f"clean start -> all {r.messages} delivered, no kill: {r.clean_s:.2f} s "
          f"(raw aiosmtplib, ten at a time: {r.raw_s:.2f} s)")
    print(f"restart (same JCBOT_WORKER_ID) -> the {r.remaining} left delivered: {r.recovery_s:.2f} s; "
          f"restart as another worker (lease lapse): {r.takeover_s:.2f} s; repeats {r.repeats}")
    print(f"ratio recovery/clean = {r.recovery_s / r.clean_s:.2f}; recovery/raw = {r.recovery_s / r.raw_s:.1f} "
          f"(most of a restart is the process starting)")


def _failover(args) -> None:
    try:
        with database("postgresql") as url, tempfile.TemporaryDirectory(prefix="jcbot-bench-replicas-") as storage:
            r = failover.measure(url, Path(storage), rounds=args.rounds)
    except Unavailable as exc:
        print(f"\nreplica fail-over: skipped ({exc})")
        return
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    print(f"\nreplica fail-over: {r.replicas} jcbot serve on one PostgreSQL, the leader killed (SIGKILL) {len(r.raw_s)} times")
    print(f"kill -> a survivor reports leader: mean {mean(r.to_leader_s):.3f} s, worst {max(r.to_leader_s):.3f} s")
    print(f"kill -> adoption recorded by the new leader's first sweep: mean {mean(r.to_adoption_s):.3f} s, "
          f"worst {max(r.to_adoption_s):.3f} s")
    print(f"raw: holder killed -> pg_try_advisory_lock loop acquires: mean {mean(r.raw_s) * 1000:.2f} ms")
    print(f"ratio fail-over/raw = {mean(r.to_adoption_s) / mean(r.raw_s):.0f} "
          f"(followers try every {failover.RETRY_S:g} s: the wait for the next try is most of it)")


def _sweep(args) -> None:
    print(f"\nsweep of {args.sweep_rows} open proposals within their period vs a plain SQL count of the same rows")
    print(f"{'database':<11} {'rows':>8} {'count ms':>9} {'sweep ms':>9} {'ratio':>7} {'full sweep ms/proposal':>23}")
    for kind in args.db or DATABASES:
        try:
            with database(kind) as url, tempfile.TemporaryDirectory(prefix="jcbot-bench-storage-") as storage:
                r = sweep.measure(kind, url, args.sweep_rows, Path(storage))
        except Unavailable as exc:
            print(f"{kind}: skipped ({exc})")
            continue
        print(f"{r.database:<11} {r.rows:>8} {r.count_s * 1000:>9.1f} {r.sweep_s * 1000:>9.1f} "
              f"{r.sweep_s / r.count_s:>7.2f} {r.full_per_proposal_s * 1000:>23.2f}")
        print(f"ratio {r.database}: routine sweep/count = {r.sweep_s / r.count_s:.2f}; a full reconciliation "
              f"of {r.rows} would take about {r.full_per_proposal_s * r.rows:.0f} s")


def _deadline(args) -> None:
    with tempfile.TemporaryDirectory(prefix="jcbot-bench-serve-") as storage:
        r = deadline.measure(Path(storage), open_total=args.open)
    worst = max(r.adoption_s) if r.adoption_s else float("nan")
    print(f"\njcbot serve with {r.open_proposals} open proposals (SQLite), {len(r.adoption_s)} reaching their deadline")
    print(f"deadline -> adoption recorded: first {min(r.adoption_s):.3f} s, last {worst:.3f} s "
          f"(raw UPDATE+COMMIT {r.raw_update_s * 1000:.2f} ms)")
    print(f"deadline -> first adoption notice at the SMTP server: {r.first_notice_s:.3f} s "
          f"(raw aiosmtplib send {r.raw_smtp_s * 1000:.2f} ms)")
    print(f"ratio adoption/raw update = {worst / r.raw_update_s:.0f}; first notice/raw send = {r.first_notice_s / r.raw_smtp_s:.0f}")


def _assertions(args) -> int:
    results, skipped = [], []
    for kind in args.db or DATABASES:
        try:
            with database(kind) as url, tempfile.TemporaryDirectory(prefix="jcbot-bench-storage-") as storage:
                results.append(assertions.measure(kind, url, args.n, Path(storage), render=not args.no_render))
        except Unavailable as exc:
            skipped.append(f"{kind}: skipped ({exc})")
    print(f"assertions recorded per second: record_assertion vs raw INSERT + COMMIT per row"
          f"{' (no renderers)' if args.no_render else ''}")
    print(f"{'database':<11} {'n':>6} {'service/s':>10} {'raw/s':>10} {'ratio':>7}")
    for r in results:
        print(f"{r.database:<11} {r.n:>6} {r.service_per_s:>10.1f} {r.raw_per_s:>10.1f} {r.ratio:>7.3f}")
    for r in results:
        print(f"ratio {r.database}: service/raw = {r.ratio:.3f} (raw is {1 / r.ratio:.1f}x faster)")
    for r in results:
        ms = 1000
        print(f"where it goes, {r.database}: the service's {r.statements:.1f} statements per assertion replayed "
              f"through the driver alone {ms / r.floor_per_s:.2f} ms (ceiling ratio {r.ceiling:.3f}), through "
              f"SQLAlchemy's connection {ms / r.sqlalchemy_per_s:.2f} ms; the service {ms / r.service_per_s:.2f} ms, "
              f"raw INSERT + COMMIT {ms / r.raw_per_s:.2f} ms")
        if r.pipeline_per_s is not None:
            print(f"  {r.database}: the same statements in psycopg's pipeline, one wait per assertion (a design "
                  f"that reads before it writes needs a few more): {ms / r.pipeline_per_s:.2f} ms "
                  f"(ceiling ratio {r.pipeline_ceiling:.3f})")
    for line in skipped:
        print(line)
    return 1 if skipped and not results else 0


if __name__ == "__main__":
    sys.exit(main())
