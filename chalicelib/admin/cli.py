"""Command-line admin tasks.

    python -m chalicelib.admin.cli create-superadmin --email E [--name N]

Creates a verified super admin, or promotes the existing account with that email;
running it again changes nothing. The password (only needed to create an account) comes
from MEWAYZ_ADMIN_PASSWORD, or is asked for when run in a terminal. Reads DATABASE_URL.
Exit codes: 0 done, 2 invalid input, 1 could not reach the database.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence

from chalicelib.core.errors import DependencyUnavailable, ValidationFailed

PASSWORD_ENV = "MEWAYZ_ADMIN_PASSWORD"  # noqa: S105 - the name of a variable, not a secret


class NoPassword(Exception):
    pass


def read_password() -> str:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    if not sys.stdin.isatty():
        raise NoPassword(f"Set {PASSWORD_ENV} (or run in a terminal to be asked) to create the account.")
    first = getpass.getpass("Password for the new super admin: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise NoPassword("The passwords do not match.")
    return first


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.admin.cli", description="Mewayz admin tasks")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser(
        "create-superadmin", help="create (or promote) a super admin account; safe to run again"
    )
    create.add_argument("--email", required=True)
    create.add_argument("--name", help="needed when the account does not exist yet")
    return parser


def create_superadmin(email: str, name: str | None) -> int:
    from chalicelib.admin import service
    from chalicelib.core import db

    try:
        result = service.create_superadmin(email, name, read_password)
    except ValidationFailed as exc:
        for field, problems in (exc.fields or {}).items():
            for problem in problems:
                print(f"error: {field}: {problem}", file=sys.stderr)
        return 2
    except NoPassword as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except DependencyUnavailable as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        db.close_all()
    user = result.user
    if result.outcome == "created":
        print(f"Created super admin {user.email} (id {user.id}); the email address is marked verified.")
    elif result.outcome == "promoted":
        print(f"Promoted {user.email} (id {user.id}) to super admin.")
    else:
        print(f"{user.email} (id {user.id}) is already a super admin; nothing changed.")
    if user.status != "active":
        print(f"note: {user.email} is suspended; reactivate it in the admin panel before signing in.")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "create-superadmin":
        return create_superadmin(args.email, args.name)
    return 2  # pragma: no cover - argparse refuses unknown commands


if __name__ == "__main__":
    sys.exit(main())
