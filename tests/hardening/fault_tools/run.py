"""The real `marketplace` command, the job runner and the WSGI server, in a process of their own with a frozen clock.

The app reads its time from the ``CLOCK`` setting, which only the mapping given to ``create_app`` can set (README:
Configuration), so a subprocess cannot be given one through the environment. This entry point builds the app with
``CLOCK`` frozen at ``--at`` and otherwise runs production code unchanged:

    python -m tests.hardening.fault_tools.run --at 2026-10-20T09:00:00+09:00 cli jobs run-due
    python -m tests.hardening.fault_tools.run --at ... loop --stop-file STOP    # a scheduler: run-due until STOP
    python -m tests.hardening.fault_tools.run --at ... serve --port 8123        # a threaded werkzeug server

``--pause-on PREFIX --pause-after N --marker FILE`` makes a fault point: once N transactions that ran a statement
starting with PREFIX have committed, the next such transaction stops just before its COMMIT (every statement of it
sent, none committed), writes FILE and sleeps, so that the test can SIGKILL the process at a known point.
Settings (DATABASE_URL, SECRET_KEY, …) come from the environment as for `marketplace`.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask.cli import FlaskGroup

from marketplace import create_app
from marketplace.core.clock import FrozenClock


def install_pause(prefix: str, after: int, marker: Path) -> None:
    """Stop the (after+1)-th committing transaction that ran a statement starting with ``prefix``."""
    guard = threading.Lock()
    committed = [0]

    @sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
    def _seen(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().startswith(prefix):
            conn.info["fault_point"] = True

    @sa.event.listens_for(sa.engine.Engine, "rollback")
    def _rolled_back(conn: Any) -> None:
        conn.info.pop("fault_point", None)

    @sa.event.listens_for(sa.engine.Engine, "commit")
    def _committing(conn: Any) -> None:
        if not conn.info.pop("fault_point", False):
            return
        with guard:
            if committed[0] < after:
                committed[0] += 1
                return
            if not marker.exists():
                marker.write_text(str(committed[0]))
        # Hold the transaction open, uncommitted, until the test kills the process.
        time.sleep(3600)


def main(argv: list[str] | None = None) -> None:
    """Parse the options and run the chosen mode."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--at", required=True, type=datetime.fromisoformat, help="the frozen clock (aware ISO time)")
    parser.add_argument("--pause-on", help="SQL prefix of the statements whose transaction is the fault point")
    parser.add_argument("--pause-after", type=int, default=0)
    parser.add_argument("--marker", type=Path)
    modes = parser.add_subparsers(dest="mode", required=True)
    cli = modes.add_parser("cli", help="the `marketplace` command")
    cli.add_argument("args", nargs=argparse.REMAINDER)
    loop = modes.add_parser("loop", help="run every job again and again until --stop-file exists, then once more")
    loop.add_argument("--stop-file", type=Path, required=True)
    serve = modes.add_parser("serve", help="serve the app on 127.0.0.1")
    serve.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    if args.pause_on:
        install_pause(args.pause_on, args.pause_after, args.marker)
    clock = FrozenClock(args.at)
    if args.mode == "cli":
        group = FlaskGroup(
            create_app=lambda: create_app({"CLOCK": clock}), add_default_commands=False, load_dotenv=False
        )
        group.main(args.args, prog_name="marketplace")
        return
    app = create_app({"CLOCK": clock})
    if args.mode == "loop":
        from marketplace.scheduler import run_due

        # A failed job is retried at the next pass, as the scheduler retries it at its next interval; after the
        # stop file the runner passes until a whole pass succeeds (at most 5 times).
        passes = failures = final = 0
        while final < 5:
            stopping = args.stop_file.exists()
            results = run_due(app)
            passes += 1
            failed = [result for result in results if not result.ok]
            for result in failed:
                failures += 1
                print(f"pass {passes}: {result.name} failed: {result.error}", flush=True)
            if stopping:
                final += 1
                if not failed:
                    break
        print(f"{passes} passes, {failures} failed job runs", flush=True)
        sys.exit(1 if failed else 0)
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", args.port, app, threaded=True)
    print(f"serving on {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
