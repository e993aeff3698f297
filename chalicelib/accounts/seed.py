"""Seed the demo logins for a local stage: a creator and a super admin. Safe to run twice.

Usage: python -m chalicelib.accounts.seed   (DEMO_PASSWORD overrides the password)
"""

from __future__ import annotations

import os
import sys

from chalicelib.accounts import service, store
from chalicelib.core import config, security

DEMO_USERS = (
    ("Demo Creator", "demo@mewayz.local", "user"),
    ("Demo Admin", "admin@mewayz.local", "super_admin"),
)
DEFAULT_PASSWORD = "mewayz-demo-2026"  # noqa: S105 - a documented local-only demo login


def seed(password: str) -> list[tuple[str, str, bool]]:
    """Create (or reset) the demo users; returns (email, role, created)."""
    problems = service.password_problems(password)
    if problems:
        raise SystemExit("DEMO_PASSWORD: " + " ".join(problems))
    done = []
    for name, email, role in DEMO_USERS:
        existing = store.get_user_by_email(email)
        if existing is None:
            store.insert_user(name, email, security.hash_password(password), role=role, verified=True)
            done.append((email, role, True))
        else:
            if not security.verify_password(existing.password_hash, password)[0]:
                store.update_password_hash(existing.id, security.hash_password(password))
            store.set_role(existing.id, role)
            store.set_status(existing.id, "active")
            done.append((email, role, False))
    return done


def main() -> int:
    if not config.get_settings().is_local:
        print("refusing to seed demo logins outside local stages", file=sys.stderr)
        return 1
    password = os.environ.get("DEMO_PASSWORD", DEFAULT_PASSWORD)
    for email, role, created in seed(password):
        print(f"{'created' if created else 'kept'} demo login: {email} / {password} ({role})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
