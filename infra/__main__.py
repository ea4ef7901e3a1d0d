"""``python -m infra up|down|status``: local Kafka + PostgreSQL for schemashift."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra import manager


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m infra", description="Local Kafka (KRaft) + PostgreSQL for schemashift."
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="state directory (default: $SCHEMASHIFT_STATE_DIR or <repo>/.schemashift)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("up", "install/start what is missing, create topics, write <state>/env"),
        ("down", "stop what `up` started"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--no-kafka", action="store_true", help="leave Kafka alone")
        cmd.add_argument("--no-postgres", action="store_true", help="leave PostgreSQL alone")
    sub.add_parser("status", help="show what is running (exit 1 if anything is not)")
    args = parser.parse_args(argv)

    try:
        if args.command == "up":
            manager.up(args.state_dir, kafka=not args.no_kafka, postgres=not args.no_postgres)
            return 0
        if args.command == "down":
            manager.down(args.state_dir, kafka=not args.no_kafka, postgres=not args.no_postgres)
            return 0
        rows = manager.status(args.state_dir)
        for component, state, detail in rows:
            print(f"{component:<9} {state:<11} {detail}")
        healthy = {manager.RUNNING, manager.EXTERNAL}
        return 0 if all(state in healthy for _, state, _ in rows) else 1
    except manager.InfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
