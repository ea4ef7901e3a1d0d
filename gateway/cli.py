"""The `schemashift` command line."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import NoReturn

ROLES = ("gateway", "comparator", "generator", "executor", "tracker")


def _configure_logging(role: str, level: str, library_level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format=f"%(asctime)s {role:<10} %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from schemashift.consumers.common.redact import install_log_redaction

    install_log_redaction()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from schemashift.consumers.common.kafka import LIBRARY_LOGGER

    LIBRARY_LOGGER.setLevel(library_level.upper())
    # aiokafka logs every broker reconnect at ERROR, and our own line per outage is enough;
    # asked for library detail (INFO, DEBUG), its group and fetch lines show too.
    detail = LIBRARY_LOGGER.level < logging.WARNING
    logging.getLogger("aiokafka").setLevel(LIBRARY_LOGGER.level if detail else logging.CRITICAL)


def _fail(reason: str) -> int:
    line = reason.strip().splitlines()[0] if reason.strip() else "unknown error"
    print(f"schemashift: error: {line[:500]}", file=sys.stderr)
    return 2


# --- diff ----------------------------------------------------------------------------------


async def _diff(
    source_url: str,
    target_url: str,
    fmt: str,
    reverse: bool = False,
    *,
    privileges: bool = False,
    concurrent_indexes: bool = False,
) -> int:
    from schemashift.consumers.comparator.introspect import IntrospectionError, introspect

    # A one-shot command whose objects hold no reference cycles: the cyclic collector would
    # only rescan the catalogs at every step, and everything once more at exit.
    gc.disable()
    # The rest of the engine loads in a thread while the servers answer the catalog queries:
    # on a large schema that hides most of the start-up time.
    loading = asyncio.ensure_future(asyncio.to_thread(_load_engine))
    try:
        source, target = await asyncio.gather(introspect(source_url), introspect(target_url))
    except IntrospectionError as exc:
        return _fail(exc.reason)
    finally:
        await loading
    from schemashift.consumers.comparator.diff import diff
    from schemashift.consumers.generator.render import generate

    operations = diff(source, target, privileges=privileges)
    # The text form shows one of the two scripts; JSON carries both.
    script = generate(
        operations,
        target.dialect,
        concurrent_indexes=concurrent_indexes,
        reverse=fmt == "json" or reverse,
    )
    if fmt == "json":
        from schemashift.schemas.report import DiffReport

        print(DiffReport.build(source, target, operations, script).model_dump_json(indent=2))
    elif script.statements:
        from schemashift.consumers.generator.render import renderer_for

        shown = script.reverse_statements if reverse else script.statements
        print(renderer_for(target.dialect).script_text(shown))
    else:
        print("-- no differences", file=sys.stderr)
    return 0


def _load_engine() -> None:
    """Import the differ and the renderers (SQLAlchemy with them)."""
    import schemashift.consumers.comparator.diff
    import schemashift.consumers.generator.render  # noqa: F401


# --- replay --------------------------------------------------------------------------------


async def _replay(args: argparse.Namespace) -> int:
    from schemashift.consumers.common.db import create_engine
    from schemashift.consumers.common.kafka import make_broker
    from schemashift.consumers.common.settings import get_settings
    from schemashift.consumers.tracker import store
    from schemashift.gateway.replay import ReplayRefused, replay
    from schemashift.infra.migrate import upgrade_async

    settings = get_settings()
    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        if args.rebuild:
            count = await store.rebuild(engine)
            print(f"rebuilt the migrations table from {count} events")
            return 0
        broker = make_broker("replay", settings)
        await broker.start()
        try:
            topic, published = await replay(
                engine,
                broker,
                settings.kafka_bootstrap,
                migration_id=args.migration,
                target=args.target,
                since=args.since,
                until=args.until,
                topic=args.topic,
            )
        except ReplayRefused as exc:
            return _fail(str(exc))
        finally:
            await broker.stop()
        print(f"replayed {published} events onto {topic}")
        return 0
    finally:
        await engine.dispose()


# --- token ---------------------------------------------------------------------------------


async def _token(args: argparse.Namespace) -> int:
    from schemashift.consumers.common.db import create_engine
    from schemashift.consumers.common.settings import get_settings
    from schemashift.gateway import tokens
    from schemashift.infra.migrate import upgrade_async

    settings = get_settings()
    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        if args.action == "create":
            scopes = {tokens.Scope(s) for s in args.scopes.split(",") if s}
            print(await tokens.create(engine, args.name, scopes))
        elif args.action == "revoke":
            await tokens.revoke(engine, args.name)
            print(f"revoked {args.name}")
        else:
            for name, token_scopes, created_at in await tokens.list_tokens(engine):
                print(f"{name:<24} {','.join(token_scopes):<28} {created_at:%Y-%m-%d %H:%M}")
    except tokens.TokenError as exc:
        return _fail(str(exc))
    finally:
        await engine.dispose()
    return 0


# --- run -----------------------------------------------------------------------------------


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def _run_role(role: str) -> int:
    from schemashift.consumers.common.settings import get_settings

    settings = get_settings()
    _configure_logging(role, settings.log_level, settings.library_log_level)
    if role == "gateway":
        import uvicorn

        from schemashift.gateway.api.app import create_app

        uvicorn.run(
            create_app(settings),
            host=settings.gateway_host,
            port=settings.gateway_port,
            loop=settings.event_loop,
            log_level="warning",
            access_log=False,
            # Longer than a client waits between two requests while it follows migrations:
            # uvicorn's 5 s closed idle connections just as clients reused them ("server
            # disconnected without sending a response"); 75 s is what proxies commonly use.
            timeout_keep_alive=75,
        )
        return 0
    import importlib

    module = importlib.import_module(f"schemashift.consumers.{role}.app")
    with asyncio.Runner(loop_factory=_loop_factory(settings.event_loop)) as runner:
        runner.run(module.role.run())
    return 0


# --- infra ---------------------------------------------------------------------------------


def _infra(argv: list[str]) -> int:
    from schemashift.infra.__main__ import main as infra_main

    return infra_main(argv, prog="schemashift infra")


# --- parser --------------------------------------------------------------------------------


def _scopes(text: str) -> str:
    from schemashift.gateway.tokens import Scope

    unknown = {s for s in text.split(",") if s} - {s.value for s in Scope}
    if unknown or not text.strip(","):
        raise argparse.ArgumentTypeError(
            f"unknown scopes {sorted(unknown)}: use read, trigger, approve, admin"
        )
    return text


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="schemashift",
        description="Compare database schemas, generate and run the migration, keep history.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("diff", help="print the SQL that makes TARGET match SOURCE (no broker)")
    p.add_argument("source_url", metavar="SOURCE_URL", help="database with the desired schema")
    p.add_argument("target_url", metavar="TARGET_URL", help="database to change")
    p.add_argument("--format", choices=("sql", "json"), default="sql")
    p.add_argument(
        "--reverse", action="store_true", help="print the script that undoes the migration"
    )
    p.add_argument(
        "--privileges",
        action="store_true",
        help="also compare GRANT/REVOKE (the roles must exist in the target)",
    )
    p.add_argument(
        "--concurrent-indexes",
        action="store_true",
        help="create and drop indexes on existing tables CONCURRENTLY, outside the transaction",
    )

    p = sub.add_parser(
        "infra",
        help="start, stop or inspect the local Kafka, PostgreSQL (all versions) and MariaDB",
        add_help=False,
        prefix_chars="\0",  # everything after `infra` belongs to `python -m infra`
    )
    p.add_argument("infra_args", nargs=argparse.REMAINDER, metavar="up|down|status")

    p = sub.add_parser("run", help="run one role in the foreground")
    p.add_argument("role", choices=ROLES)

    p = sub.add_parser("token", help="create, revoke or list API tokens")
    token_sub = p.add_subparsers(dest="action", required=True)
    create = token_sub.add_parser("create", help="print a new token (shown only once)")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scopes",
        required=True,
        type=_scopes,
        help="comma-separated: read, trigger, approve, admin (admin implies all)",
    )
    revoke = token_sub.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("--name", required=True)
    token_sub.add_parser("list", help="active tokens (names and scopes)")

    p = sub.add_parser("serve", help="run the gateway and all consumers under one supervisor")
    p.add_argument("--pid-dir", type=Path, help="keep each role's pid in DIR/<role>.pid")

    p = sub.add_parser("demo", help="sample databases, a migration through the API, then serve")
    p.add_argument("--no-serve", action="store_true", help="stop after the demo migration")

    p = sub.add_parser("replay", help="re-publish stored events, or rebuild the read model")
    p.add_argument("--migration", type=uuid.UUID, help="only this migration's events")
    p.add_argument("--target", help="only events of this target connection")
    p.add_argument("--since", type=datetime.fromisoformat, help="ISO time, inclusive")
    p.add_argument("--until", type=datetime.fromisoformat, help="ISO time, exclusive")
    p.add_argument("--topic", help="destination topic (default schemashift.replay)")
    p.add_argument(
        "--rebuild", action="store_true", help="rebuild the tracker's tables from the event log"
    )

    from schemashift.gateway.client_cli import add_client_commands

    add_client_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `schemashift` console script."""
    args = build_parser().parse_args(argv)
    try:
        match args.command:
            case "diff":
                return asyncio.run(
                    _diff(
                        args.source_url,
                        args.target_url,
                        args.format,
                        args.reverse,
                        privileges=args.privileges,
                        concurrent_indexes=args.concurrent_indexes,
                    )
                )
            case "infra":
                return _infra(args.infra_args)
            case "run":
                return _run_role(args.role)
            case "serve":
                from schemashift.gateway.supervisor import serve

                return serve(pid_dir=args.pid_dir)
            case "demo":
                from schemashift.gateway.demo import demo

                return demo(serve_after=not args.no_serve)
            case "replay":
                return asyncio.run(_replay(args))
            case "token":
                return asyncio.run(_token(args))
            case "compare" | "migrations" | "connections":
                from schemashift.gateway.client_cli import run_client_command

                return run_client_command(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line for the user, never a traceback with a URL in it
        from schemashift.consumers.common.redact import redact_text

        return _fail(redact_text(f"{type(exc).__name__}: {exc}"))
    return 0


def run() -> NoReturn:
    """The console script: :func:`main`, then exit with its code.

    After ``diff`` the exit skips the interpreter's teardown, as mypy's fast exit does: freeing
    the hundreds of thousands of objects of a large schema's catalogs one by one would add a
    tenth to the command's time, and a one-shot comparison holds nothing else to clean up.
    """
    code = main()
    if sys.argv[1:2] == ["diff"]:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
