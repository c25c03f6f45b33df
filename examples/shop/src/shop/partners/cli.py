"""The partner commands of ``shop``: partners, audit, jobs, worker."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
from dataclasses import asdict
from typing import Any

from sqlalchemy.exc import IntegrityError

from shop.settings import Settings

__all__ = ["COMMANDS", "add_commands", "run"]

COMMANDS = frozenset({"partners", "audit", "jobs", "worker"})
_EMAIL = re.compile(r"^[^@\s<>\"',;]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")


def add_commands(commands: Any) -> None:
    """Add the partner subcommands to the ``shop`` parser's subparsers."""
    partners = commands.add_parser("partners", help="partners and their API keys")
    sub = partners.add_subparsers(dest="partners_command", required=True)
    create = sub.add_parser("create", help="add a partner; print its key and webhook secret once")
    create.add_argument("name")
    create.add_argument("--email", required=True)
    create.add_argument("--callback-url", default=None)
    create.add_argument("--json", action="store_true", help="print {id, api_key, webhook_secret}")
    listing = sub.add_parser("list", help="list partners and their usable key prefixes")
    listing.add_argument("--json", action="store_true")
    rotate = sub.add_parser("rotate", help="give a partner a new key")
    rotate.add_argument("id", type=int)
    rotate.add_argument(
        "--grace", type=float, default=0.0, help="seconds the old key keeps working (default 0)"
    )
    rotate.add_argument("--json", action="store_true")
    revoke = sub.add_parser("revoke", help="revoke a partner and all its keys")
    revoke.add_argument("id", type=int)
    revoke.add_argument("--json", action="store_true")

    audit = commands.add_parser("audit", help="the partner authentication audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    tail = audit_sub.add_parser("tail", help="the latest attempts, oldest first")
    tail.add_argument("-n", "--lines", type=int, default=20)
    tail.add_argument("--json", action="store_true", help="one JSON object per line")

    jobs = commands.add_parser("jobs", help="the job queue's dead letter")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    failed = jobs_sub.add_parser("failed", help="list failed jobs")
    failed.add_argument("--json", action="store_true")
    again = jobs_sub.add_parser("retry", help="queue a failed job again")
    again.add_argument("id", type=int)

    worker = commands.add_parser("worker", help="run a job worker")
    worker.add_argument("--concurrency", type=int, default=1)


def _fail(message: str) -> int:
    print(f"shop: {message}", file=sys.stderr)
    return 2


def run(settings: Settings, args: argparse.Namespace) -> int:
    """Run one partner command; return its exit status."""
    if args.command == "worker":
        return _worker(settings, args.concurrency)
    return asyncio.run(_run(settings, args))


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from shop.db import make_engine  # noqa: PLC0415

    engine = make_engine(settings.database_url, pool_size=1)
    try:
        if args.command == "partners":
            return await _partners(settings, engine, args)
        if args.command == "audit":
            return await _audit(engine, args)
        return await _jobs(settings, engine, args)
    finally:
        await engine.dispose()


async def _partners(settings: Settings, engine: Any, args: argparse.Namespace) -> int:
    from shop.partners import admin  # noqa: PLC0415
    from shop.partners.ssrf import CallbackPolicy, UnsafeUrlError  # noqa: PLC0415

    command = args.partners_command
    if command == "create":
        if not 1 <= len(args.name) <= 100 or not args.name.isprintable():
            return _fail("NAME must be 1 to 100 printable characters")
        if not _EMAIL.match(args.email):
            return _fail(f"--email is not an email address: {args.email!r}")
        if args.callback_url is not None:
            try:
                await CallbackPolicy.parse(settings.callback_allow).resolve(args.callback_url)
            except UnsafeUrlError as error:
                return _fail(f"--callback-url: {error}")
        try:
            made = await admin.create_partner(engine, args.name, args.email, args.callback_url)
        except IntegrityError:
            return _fail(f"a partner named {args.name!r} already exists")
        if args.json:
            print(json.dumps(asdict(made)))
        else:
            print(f"partner {args.name!r} has id {made.id} (shown once, keep them safe):")
            print(f"  API key:        {made.api_key}")
            print(f"  webhook secret: {made.webhook_secret}")
        return 0
    if command == "list":
        found = await admin.list_partners(engine)
        if args.json:
            print(json.dumps([asdict(p) for p in found]))
        else:
            for p in found:
                keys = ", ".join(p.keys) or "-"
                print(f"{p.id:>5}  {p.status:<8} {p.name:<30} {p.email:<30} keys: {keys}")
        return 0
    if command == "rotate":
        key = await admin.rotate_key(engine, args.id, grace=max(0.0, args.grace))
        if key is None:
            return _fail(f"no active partner has id {args.id}")
        print(json.dumps({"id": args.id, "api_key": key}) if args.json else f"new API key: {key}")
        return 0
    revoked = await admin.revoke_partner(engine, args.id)
    if not revoked:
        return _fail(f"no active partner has id {args.id}")
    print(json.dumps({"id": args.id, "revoked": True}) if args.json else f"revoked {args.id}")
    return 0


async def _audit(engine: Any, args: argparse.Namespace) -> int:
    from shop.partners.audit import tail  # noqa: PLC0415

    entries = await tail(engine, max(1, min(args.lines, 10_000)))
    for entry in entries:
        if args.json:
            print(json.dumps(asdict(entry)))
        else:
            print(
                f"{entry.at} {entry.source:<15} {entry.method:<5} {entry.route:<28} "
                f"{entry.key_prefix or '-':<13} {entry.outcome}"
            )
    return 0


async def _jobs(settings: Settings, engine: Any, args: argparse.Namespace) -> int:
    from shop.jobs.queue import JobQueue  # noqa: PLC0415

    queue = JobQueue(engine, lease=settings.job_lease)
    if args.jobs_command == "failed":
        rows = await queue.failed()
        for row in rows:
            if args.json:
                print(json.dumps(asdict(row)))
            else:
                print(f"{row.id:>6} {row.kind:<16} attempts {row.attempts}: {row.last_error}")
        return 0
    if not await queue.retry(args.id):
        return _fail(f"job {args.id} is not failed")
    print(f"job {args.id} queued again")
    return 0


def _worker(settings: Settings, concurrency: int) -> int:
    from shop.db import make_engine  # noqa: PLC0415
    from shop.observability import configure_logging  # noqa: PLC0415
    from shop.partners.service import build_services  # noqa: PLC0415

    if concurrency < 1:
        return _fail(f"--concurrency must be 1 or more, got {concurrency}")
    configure_logging()

    async def main() -> None:
        engine = make_engine(settings.database_url, pool_size=concurrency + 2)
        services = build_services(settings, engine, concurrency=concurrency)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        print(f"worker {services.worker.worker_id} running", flush=True)
        try:
            await services.worker.run(stop)
        finally:
            await services.http.aclose()
            await engine.dispose()

    asyncio.run(main())
    return 0
