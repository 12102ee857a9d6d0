"""`python -m bench`: every benchmark, printed as a short table with its ratio lines."""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench import assertions
from bench.databases import DATABASES, Unavailable, database


def main(argv: list[str] | None = None) -> int:
    """Run the assertion benchmark on each database and print the table; 0 unless one failed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("-n", type=int, default=500, help="assertions per database (default 500)")
    parser.add_argument("--db", action="append", choices=DATABASES, help="a database to run on (repeatable; default both)")
    parser.add_argument("--no-render", action="store_true", help="no channel renderers: no outbox rows are written")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("-n must be at least 1")
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
    for line in skipped:
        print(line)
    return 1 if skipped and not results else 0


if __name__ == "__main__":
    sys.exit(main())
