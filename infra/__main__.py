"""``python -m infra up|down|status``: local Kafka, PostgreSQL and MariaDB for schemashift."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from schemashift.infra import manager, pgversions
from schemashift.infra.components.interface import table
from schemashift.infra.console import report


def _versions(text: str) -> tuple[int, ...]:
    # argparse shows the message of ArgumentTypeError only, not that of a ValueError.
    try:
        return pgversions.parse_versions(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None, *, prog: str = "python -m infra") -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Local Kafka (KRaft), PostgreSQL and MariaDB for schemashift."
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="state directory (default: $SCHEMASHIFT_STATE_DIR or <repo>/.schemashift)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    versions_help = (
        "extra PostgreSQL major versions, e.g. 14,16,17,18: one cluster each on port "
        f"{pgversions.PORT_BASE} + major (default: ${pgversions.VERSIONS_ENV})"
    )
    for name, text in (
        ("up", "install/start what is missing, create topics, write <state>/env"),
        ("down", "stop what `up` started"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--no-kafka", action="store_true", help="leave Kafka alone")
        cmd.add_argument(
            "--no-postgres", action="store_true", help="leave PostgreSQL (every cluster) alone"
        )
        cmd.add_argument("--no-mariadb", action="store_true", help="leave MariaDB alone")
        if name == "up":
            cmd.add_argument(
                "--postgres-versions", type=_versions, metavar="VERSIONS", help=versions_help
            )
        else:
            cmd.add_argument(
                "--only",
                nargs="+",
                metavar="COMPONENT",
                help=(
                    "stop only these: kafka, postgres, postgres-<major>, mariadb "
                    "(as `status` names them)"
                ),
            )
    status_cmd = sub.add_parser("status", help="show what is running (exit 1 if anything is not)")
    status_cmd.add_argument(
        "--postgres-versions", type=_versions, metavar="VERSIONS", help=versions_help
    )
    sub.add_parser(
        "browser",
        help="install Debian's Chromium and chromedriver if missing (the console's browser tests)",
    )
    args = parser.parse_args(argv)

    try:
        if args.command == "browser":
            return _browser()
        if args.command == "up":
            manager.up(
                args.state_dir,
                kafka=not args.no_kafka,
                postgres=not args.no_postgres,
                mariadb=not args.no_mariadb,
                postgres_versions=args.postgres_versions,
            )
            return 0
        if args.command == "down":
            manager.down(
                args.state_dir,
                kafka=not args.no_kafka,
                postgres=not args.no_postgres,
                mariadb=not args.no_mariadb,
                only=args.only,
            )
            return 0
        statuses = manager.status(args.state_dir, postgres_versions=args.postgres_versions)
        for line in table(statuses):
            print(line)
        return 0 if all(status.healthy for status in statuses) else 1
    except manager.InfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _browser() -> int:
    from schemashift.infra import browser

    try:
        browser.ensure()
    except browser.BrowserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report("browser", f"ready     {browser.CHROMIUM} with {browser.CHROMEDRIVER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
