"""The ``caseflow`` command line (SPEC §4.2)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from core import clock


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from core.migrate import upgrade
    from core.settings import get_settings

    upgrade()
    print(f"database at head: {get_settings().database_url}")
    return 0


def _cmd_users_add(args: argparse.Namespace) -> int:
    from core.db import session_scope
    from core.migrate import upgrade
    from core.users import add_user

    upgrade()
    with session_scope() as session:
        user, token = add_user(session=session, name=args.name, role=args.role, branch=args.branch, now=clock.now())
    print(f"user {user.name} ({user.role}{', branch ' + user.branch_code if user.branch_code else ''}) created; token:")
    print(token)
    return 0


def _cmd_calendar_load(args: argparse.Namespace) -> int:
    from core.calendar import invalidate_calendar, load_file
    from core.db import session_scope
    from core.migrate import upgrade

    upgrade()
    with session_scope() as session:
        count = load_file(session=session, path=args.file)
        session.commit()
    invalidate_calendar()
    print(f"loaded {count} days from {args.file}")
    return 0


def _cmd_flows_run(args: argparse.Namespace) -> int:
    from core.migrate import upgrade
    from flows.registry import FLOWS

    if args.name not in FLOWS:
        print(f"unknown flow {args.name!r}; flows: {', '.join(sorted(FLOWS))}", file=sys.stderr)
        return 2
    upgrade()
    as_of = clock.parse_as_of(args.as_of)
    result = FLOWS[args.name](as_of=as_of)
    print(result)
    return 0


def _cmd_customers_opt_out(args: argparse.Namespace) -> int:
    from core.db import session_scope
    from core.migrate import upgrade
    from domain.care import set_opt_out

    upgrade()
    with session_scope() as session:
        try:
            changed = set_opt_out(session, policy_no=args.policy_no, opted_out=not args.undo)
        except LookupError as exc:
            print(f"caseflow: {exc}", file=sys.stderr)
            return 2
    state = "back in for" if args.undo else "opted out of"
    print(f"holder of {args.policy_no} {state} greetings ({changed} policies)")
    return 0


def _cmd_outbox_failed(args: argparse.Namespace) -> int:
    from core.db import session_scope
    from core.migrate import upgrade
    from notifications.outbox import failed_messages

    upgrade()
    with session_scope() as session:
        for m in failed_messages(session, limit=args.limit):
            print(f"{m.id}\t{m.channel}\t{m.template}\t{m.recipient}\tattempts={m.attempts}\t{m.last_error}")
    return 0


def _cmd_outbox_retry(args: argparse.Namespace) -> int:
    from core.db import session_scope
    from core.migrate import upgrade
    from notifications.outbox import requeue

    upgrade()
    with session_scope() as session:
        if not requeue(session, outbox_id=args.id, now=clock.now()):
            print(f"caseflow: outbox message {args.id} is not a failed message", file=sys.stderr)
            return 2
    print(f"outbox message {args.id} queued again")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from core.serve import serve

    return serve(with_prefect_server=not args.no_prefect_server)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="caseflow", description="Caseflow back office")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="create or migrate the database").set_defaults(func=_cmd_db_upgrade)

    users = sub.add_parser("users", help="API users").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="add a user and print its bearer token")
    add.add_argument("name")
    add.add_argument("--role", required=True)
    add.add_argument("--branch")
    add.set_defaults(func=_cmd_users_add)

    cal = sub.add_parser("calendar", help="working-day calendar").add_subparsers(dest="cal_command", required=True)
    load = cal.add_parser("load", help="load a year of holidays and make-up working days (JSON or CSV)")
    load.add_argument("file")
    load.set_defaults(func=_cmd_calendar_load)

    flows = sub.add_parser("flows", help="Prefect flows").add_subparsers(dest="flows_command", required=True)
    run = flows.add_parser("run", help="run one flow once, for a moment")
    run.add_argument("name")
    run.add_argument("--as-of", dest="as_of", help="ISO-8601 moment (naive = Asia/Shanghai); default now")
    run.set_defaults(func=_cmd_flows_run)

    customers = sub.add_parser("customers", help="customers (policyholders)").add_subparsers(
        dest="customers_command", required=True
    )
    opt_out = customers.add_parser("opt-out", help="no more greetings for the holder of a policy (all their policies)")
    opt_out.add_argument("policy_no")
    opt_out.add_argument("--undo", action="store_true", help="opt back in")
    opt_out.set_defaults(func=_cmd_customers_opt_out)

    outbox = sub.add_parser("outbox", help="notification outbox").add_subparsers(dest="outbox_command", required=True)
    failed = outbox.add_parser("failed", help="list messages that failed for good")
    failed.add_argument("--limit", type=int, default=100)
    failed.set_defaults(func=_cmd_outbox_failed)
    retry = outbox.add_parser("retry", help="queue a failed message again (after fixing its cause)")
    retry.add_argument("id", type=int)
    retry.set_defaults(func=_cmd_outbox_retry)

    serve = sub.add_parser("serve", help="the API and every deployment")
    serve.add_argument("--no-prefect-server", action="store_true", help="use PREFECT_API_URL as it is set")
    serve.set_defaults(func=_cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        print(f"caseflow: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
