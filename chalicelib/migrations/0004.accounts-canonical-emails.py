"""Give every existing account its canonical email key (see 0004.accounts-security.sql).

Python rather than SQL: the key is chalicelib.core.validation.canonical_email (NFKC,
default-ignorables removed, case folded), which MySQL cannot compute. Nothing is merged:
when several accounts share a canonical form, the verified one (else the oldest) keeps
it; the others, and addresses with no safe canonical form, keep email_canonical NULL and
get a row in email_canonical_conflicts (and a warning in the migration log).
"""

from __future__ import annotations

import logging
from typing import Any

from yoyo import step

from chalicelib.core.validation import EmailNotCanonical, canonical_email

__depends__ = {"0004.accounts-security"}

log = logging.getLogger("mewayz.migrations")


def _canonical_or_none(email: str) -> str | None:
    try:
        return canonical_email(email)
    except EmailNotCanonical:
        return None


def fill_canonical_emails(conn: Any) -> None:
    cur = conn.cursor()
    cur.execute("SELECT email_canonical, id FROM users WHERE email_canonical IS NOT NULL")
    holders = {row[0]: row[1] for row in cur.fetchall()}
    cur.execute("SELECT id, email, email_verified_at IS NOT NULL FROM users WHERE email_canonical IS NULL ORDER BY id")
    claims: dict[str, list[tuple[int, str, bool]]] = {}
    for user_id, email, verified in cur.fetchall():
        canonical = _canonical_or_none(email)
        if canonical is None:
            _report(cur, user_id, email, None, None, "unsafe")
        else:
            claims.setdefault(canonical, []).append((user_id, email, bool(verified)))
    for canonical, accounts in claims.items():
        keeper = holders.get(canonical)
        if keeper is None:
            # Verified before unverified, then oldest first.
            accounts.sort(key=lambda a: (not a[2], a[0]))
            keeper = accounts[0][0]
            cur.execute("UPDATE users SET email_canonical = %s WHERE id = %s", (canonical, keeper))
        for user_id, email, _verified in accounts:
            if user_id != keeper:
                _report(cur, user_id, email, canonical, keeper, "duplicate")


def _report(cur: Any, user_id: int, email: str, canonical: str | None, kept: int | None, reason: str) -> None:
    log.warning(
        "account %s: email %r gets no canonical key (%s%s); it cannot sign in by email until resolved",
        user_id,
        email,
        reason,
        f", kept by account {kept}" if kept else "",
    )
    cur.execute(
        "INSERT INTO email_canonical_conflicts (user_id, email, canonical, kept_user_id, reason) "
        "VALUES (%s, %s, %s, %s, %s)",
        (user_id, email, canonical, kept, reason),
    )


def forget_canonical_emails(conn: Any) -> None:
    cur = conn.cursor()
    cur.execute("DELETE FROM email_canonical_conflicts")
    cur.execute("UPDATE users SET email_canonical = NULL")


steps = [step(fill_canonical_emails, forget_canonical_emails)]
