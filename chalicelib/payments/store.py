"""SQL of the payments area: transactions, billing customers, subscriptions, Stripe events.

Every read of a user's rows filters on user_id; lookups by a Stripe id come from verified
webhooks (the caller then checks the owner it expects). Times are naive UTC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.core import db

_TX_COLUMNS = (
    "id, user_id, kind, package_id, mode, amount, currency, status, stripe_session_id, stripe_customer_id, "
    "stripe_payment_intent_id, stripe_subscription_id, stripe_invoice_id, metadata, paid_at, access_until, "
    "refunded_at, failure_reason, created_at"
)
_SUB_COLUMNS = (
    "id, user_id, stripe_subscription_id, stripe_customer_id, package_id, plan, status, current_period_end, "
    "cancel_at_period_end, canceled_at, ended_at, stripe_created, state_as_of"
)
_EVENT_COLUMNS = (
    "id, stripe_event_id, type, livemode, event_created, payload, received_at, deliveries, attempts, "
    "processed_at, outcome, last_error"
)
LIVE_STATUSES = ("active", "trialing", "past_due")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Transaction:
    id: int
    user_id: int
    kind: str
    package_id: str
    mode: str
    amount: int
    currency: str
    status: str
    stripe_session_id: str | None
    stripe_customer_id: str | None
    stripe_payment_intent_id: str | None
    stripe_subscription_id: str | None
    stripe_invoice_id: str | None
    metadata: dict[str, Any]
    paid_at: datetime | None
    access_until: datetime | None
    refunded_at: datetime | None
    failure_reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class Subscription:
    id: int
    user_id: int
    stripe_subscription_id: str
    stripe_customer_id: str | None
    package_id: str
    plan: str
    status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None
    stripe_created: datetime
    state_as_of: int

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


@dataclass(frozen=True)
class StripeEvent:
    id: int
    stripe_event_id: str
    type: str
    livemode: bool
    event_created: datetime
    payload: str
    received_at: datetime
    deliveries: int
    attempts: int
    processed_at: datetime | None
    outcome: str | None
    last_error: str | None

    def data(self) -> dict[str, Any]:
        return json.loads(self.payload)


def _tx(row: dict[str, Any] | None) -> Transaction | None:
    if not row:
        return None
    row = dict(row)
    row["metadata"] = json.loads(row["metadata"] or "{}")
    return Transaction(**row)


def _sub(row: dict[str, Any] | None) -> Subscription | None:
    if not row:
        return None
    row = dict(row)
    row["cancel_at_period_end"] = bool(row["cancel_at_period_end"])
    return Subscription(**row)


# ---- transactions --------------------------------------------------------------------------


def insert_transaction(
    user_id: int,
    package_id: str,
    mode: str,
    amount: int,
    currency: str,
    metadata: dict[str, Any],
    *,
    kind: str = "plan",
    status: str = "pending",
    stripe_invoice_id: str | None = None,
    stripe_subscription_id: str | None = None,
    stripe_customer_id: str | None = None,
) -> int:
    result = db.execute(
        "INSERT INTO payment_transactions (user_id, kind, package_id, mode, amount, currency, status, metadata, "
        "stripe_invoice_id, stripe_subscription_id, stripe_customer_id) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (user_id, kind, package_id, mode, amount, currency, status, json.dumps(metadata), stripe_invoice_id,
         stripe_subscription_id, stripe_customer_id),
    )  # fmt: skip
    return result.lastrowid


def get_transaction(tx_id: int, *, for_update: bool = False) -> Transaction | None:
    lock = " FOR UPDATE" if for_update else ""
    return _tx(db.fetch_one(f"SELECT {_TX_COLUMNS} FROM payment_transactions WHERE id = %s{lock}", (tx_id,)))  # noqa: S608


def transaction_by_session(session_id: str, user_id: int | None = None) -> Transaction | None:
    sql, params = f"SELECT {_TX_COLUMNS} FROM payment_transactions WHERE stripe_session_id = %s", [session_id]  # noqa: S608
    if user_id is not None:
        sql += " AND user_id = %s"
        params.append(user_id)
    return _tx(db.fetch_one(sql, params))


def transaction_by_invoice(invoice_id: str) -> Transaction | None:
    return _tx(
        db.fetch_one(f"SELECT {_TX_COLUMNS} FROM payment_transactions WHERE stripe_invoice_id = %s", (invoice_id,))  # noqa: S608
    )


def transaction_by_intent(payment_intent_id: str) -> Transaction | None:
    return _tx(
        db.fetch_one(
            f"SELECT {_TX_COLUMNS} FROM payment_transactions WHERE stripe_payment_intent_id = %s ORDER BY id LIMIT 1",  # noqa: S608
            (payment_intent_id,),
        )
    )


_UPDATABLE = {
    "status", "stripe_session_id", "stripe_customer_id", "stripe_payment_intent_id", "stripe_subscription_id",
    "stripe_invoice_id", "paid_at", "access_until", "refunded_at", "failure_reason", "package_id", "amount",
}  # fmt: skip


def update_transaction(tx_id: int, *, only_from: tuple[str, ...] | None = None, **fields: Any) -> bool:
    """Set `fields` on a transaction; with `only_from`, only while its status is one of those
    (the status transition is the idempotency guard). True when the row changed state."""
    unknown = set(fields) - _UPDATABLE
    if unknown or not fields:
        raise ValueError(f"cannot update {sorted(unknown) or 'nothing'}")
    assignments = ", ".join(f"{name} = %s" for name in fields)
    sql = f"UPDATE payment_transactions SET {assignments} WHERE id = %s"  # noqa: S608 - names from _UPDATABLE
    params: list[Any] = [*fields.values(), tx_id]
    if only_from:
        sql += f" AND status IN ({', '.join(['%s'] * len(only_from))})"
        params += list(only_from)
    return db.execute(sql, params).rowcount == 1


def list_transactions(user_id: int, limit: int, after_id: int | None) -> list[Transaction]:
    sql = f"SELECT {_TX_COLUMNS} FROM payment_transactions WHERE user_id = %s"  # noqa: S608
    params: list[Any] = [user_id]
    if after_id is not None:
        sql += " AND id < %s"
        params.append(after_id)
    sql += " ORDER BY id DESC LIMIT %s"
    params.append(limit)
    return [t for t in (_tx(r) for r in db.fetch_all(sql, params)) if t is not None]


def passes_in_force(user_id: int, at: datetime) -> list[Transaction]:
    """Paid one-time passes of `user_id` that still grant their plan at `at`."""
    rows = db.fetch_all(
        f"SELECT {_TX_COLUMNS} FROM payment_transactions WHERE user_id = %s AND kind = 'plan' AND mode = 'payment' "  # noqa: S608
        "AND status = 'paid' AND access_until > %s ORDER BY access_until DESC",
        (user_id, at),
    )
    return [t for t in (_tx(r) for r in rows) if t is not None]


def fail_stale_pending(older_than: datetime, reason: str) -> int:
    """Pending rows that never got a Checkout Session (the creating call died): failed."""
    return db.execute(
        "UPDATE payment_transactions SET status = 'failed', failure_reason = %s "
        "WHERE status = 'pending' AND stripe_session_id IS NULL AND created_at < %s",
        (reason, older_than),
    ).rowcount


# ---- billing customers -----------------------------------------------------------------------


def customer_of(user_id: int) -> str | None:
    row = db.fetch_one("SELECT stripe_customer_id FROM billing_customers WHERE user_id = %s", (user_id,))
    return str(row["stripe_customer_id"]) if row else None


def user_of_customer(customer_id: str) -> int | None:
    row = db.fetch_one("SELECT user_id FROM billing_customers WHERE stripe_customer_id = %s", (customer_id,))
    return int(row["user_id"]) if row else None


def insert_customer(user_id: int, customer_id: str) -> None:
    db.execute("INSERT INTO billing_customers (user_id, stripe_customer_id) VALUES (%s, %s)", (user_id, customer_id))


# ---- subscriptions -------------------------------------------------------------------------------


def subscription_by_stripe_id(stripe_subscription_id: str, *, for_update: bool = False) -> Subscription | None:
    lock = " FOR UPDATE" if for_update else ""
    return _sub(
        db.fetch_one(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE stripe_subscription_id = %s{lock}",  # noqa: S608
            (stripe_subscription_id,),
        )
    )


def save_subscription(
    user_id: int,
    stripe_subscription_id: str,
    *,
    stripe_customer_id: str | None,
    package_id: str,
    plan: str,
    status: str,
    current_period_end: datetime | None,
    cancel_at_period_end: bool,
    canceled_at: datetime | None,
    ended_at: datetime | None,
    stripe_created: datetime,
    state_as_of: int,
) -> None:
    """Insert or overwrite the subscription's row (the caller decided this view is newer)."""
    db.execute(
        "INSERT INTO subscriptions (user_id, stripe_subscription_id, stripe_customer_id, package_id, plan, status, "
        "current_period_end, cancel_at_period_end, canceled_at, ended_at, stripe_created, state_as_of) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON DUPLICATE KEY UPDATE stripe_customer_id = VALUES(stripe_customer_id), package_id = VALUES(package_id), "
        "plan = VALUES(plan), status = VALUES(status), current_period_end = VALUES(current_period_end), "
        "cancel_at_period_end = VALUES(cancel_at_period_end), canceled_at = VALUES(canceled_at), "
        "ended_at = VALUES(ended_at), state_as_of = VALUES(state_as_of)",
        (user_id, stripe_subscription_id, stripe_customer_id, package_id, plan, status, current_period_end,
         int(cancel_at_period_end), canceled_at, ended_at, stripe_created, state_as_of),
    )  # fmt: skip


def live_subscriptions(user_id: int) -> list[Subscription]:
    """The user's subscriptions Stripe still bills (active, trialing, past_due), newest first."""
    rows = db.fetch_all(
        f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE user_id = %s AND status IN (%s, %s, %s) "  # noqa: S608
        "ORDER BY stripe_created DESC, id DESC",
        (user_id, *LIVE_STATUSES),
    )
    return [s for s in (_sub(r) for r in rows) if s is not None]


def latest_subscription(user_id: int) -> Subscription | None:
    return _sub(
        db.fetch_one(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE user_id = %s ORDER BY stripe_created DESC, id DESC LIMIT 1",  # noqa: S608
            (user_id,),
        )
    )


def has_past_due(user_id: int) -> bool:
    row = db.fetch_one(
        "SELECT 1 AS yes FROM subscriptions WHERE user_id = %s AND status IN ('past_due', 'unpaid') LIMIT 1",
        (user_id,),
        reader=True,
    )
    return row is not None


def live_subscriptions_by_package() -> dict[str, int]:
    """How many subscriptions Stripe still bills, per package (for MRR)."""
    rows = db.fetch_all(
        "SELECT package_id, COUNT(*) AS n FROM subscriptions WHERE status IN (%s, %s, %s) GROUP BY package_id",
        LIVE_STATUSES,
        reader=True,
    )
    return {str(r["package_id"]): int(r["n"]) for r in rows}


def paying_users(at: datetime) -> int:
    """Users with a live subscription or a pass in force at `at`."""
    row = db.fetch_one(
        "SELECT COUNT(*) AS n FROM (SELECT user_id FROM subscriptions WHERE status IN (%s, %s, %s) "
        "UNION SELECT user_id FROM payment_transactions WHERE kind = 'plan' AND mode = 'payment' "
        "AND status = 'paid' AND access_until > %s) AS paying",
        (*LIVE_STATUSES, at),
        reader=True,
    )
    return int(row["n"]) if row else 0


# ---- Stripe events ----------------------------------------------------------------------------------


_DEADLOCK = 1213


def record_event(stripe_event_id: str, event_type: str, livemode: bool, created: datetime, payload: str) -> bool:
    """Store a received event once; True the first time, False for a repeated delivery.

    Concurrent deliveries of one event may deadlock on its unique key (InnoDB's upsert
    locking): the loser simply runs again, as the statement is its own transaction."""
    import pymysql

    for attempt in range(3):
        try:
            result = db.execute(
                "INSERT INTO stripe_events (stripe_event_id, type, livemode, event_created, payload) "
                "VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE deliveries = deliveries + 1",
                (stripe_event_id, event_type, int(livemode), created, payload),
            )
            return result.rowcount == 1
        except pymysql.err.OperationalError as exc:
            if not exc.args or exc.args[0] != _DEADLOCK or attempt == 2:
                raise
    raise AssertionError("unreachable")


def get_event(stripe_event_id: str) -> StripeEvent | None:
    row = db.fetch_one(f"SELECT {_EVENT_COLUMNS} FROM stripe_events WHERE stripe_event_id = %s", (stripe_event_id,))  # noqa: S608
    if not row:
        return None
    row = dict(row)
    row["livemode"] = bool(row["livemode"])
    return StripeEvent(**row)


def mark_event_processed(stripe_event_id: str, outcome: str) -> None:
    db.execute(
        "UPDATE stripe_events SET processed_at = UTC_TIMESTAMP(6), outcome = %s, attempts = attempts + 1 "
        "WHERE stripe_event_id = %s",
        (outcome[:255], stripe_event_id),
    )


def record_event_failure(stripe_event_id: str, error: str) -> None:
    db.execute(
        "UPDATE stripe_events SET attempts = attempts + 1, last_error = %s WHERE stripe_event_id = %s",
        (error[:4000], stripe_event_id),
    )


def unprocessed_events(older_than: datetime, limit: int) -> list[str]:
    rows = db.fetch_all(
        "SELECT stripe_event_id FROM stripe_events WHERE processed_at IS NULL AND received_at < %s "
        "ORDER BY received_at LIMIT %s",
        (older_than, limit),
    )
    return [str(r["stripe_event_id"]) for r in rows]


# ---- creators' own sales: Connect accounts and orders ------------------------------------------


@dataclass(frozen=True)
class ConnectAccount:
    user_id: int
    stripe_account_id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    state_as_of: int
    updated_at: datetime


_CONNECT_COLUMNS = (
    "user_id, stripe_account_id, charges_enabled, payouts_enabled, details_submitted, state_as_of, updated_at"
)


def _connect(row: dict[str, Any] | None) -> ConnectAccount | None:
    if not row:
        return None
    row = dict(row)
    for flag in ("charges_enabled", "payouts_enabled", "details_submitted"):
        row[flag] = bool(row[flag])
    return ConnectAccount(**row)


def connect_account_of(user_id: int, *, for_update: bool = False) -> ConnectAccount | None:
    lock = " FOR UPDATE" if for_update else ""
    sql = f"SELECT {_CONNECT_COLUMNS} FROM connect_accounts WHERE user_id = %s{lock}"  # noqa: S608
    return _connect(db.fetch_one(sql, (user_id,)))


def connect_account_by_stripe_id(stripe_account_id: str) -> ConnectAccount | None:
    sql = f"SELECT {_CONNECT_COLUMNS} FROM connect_accounts WHERE stripe_account_id = %s"  # noqa: S608
    return _connect(db.fetch_one(sql, (stripe_account_id,)))


def insert_connect_account(user_id: int, stripe_account_id: str) -> None:
    db.execute(
        "INSERT INTO connect_accounts (user_id, stripe_account_id) VALUES (%s, %s)", (user_id, stripe_account_id)
    )


def save_connect_state(user_id: int, charges: bool, payouts: bool, details: bool, as_of: int) -> None:
    db.execute(
        "UPDATE connect_accounts SET charges_enabled = %s, payouts_enabled = %s, details_submitted = %s, "
        "state_as_of = %s WHERE user_id = %s",
        (charges, payouts, details, as_of, user_id),
    )


def charges_enabled_users(user_ids: list[int]) -> set[int]:
    if not user_ids:
        return set()
    marks = ", ".join(["%s"] * len(user_ids))
    rows = db.fetch_all(
        f"SELECT user_id FROM connect_accounts WHERE charges_enabled = 1 AND user_id IN ({marks})",  # noqa: S608
        user_ids,
    )
    return {int(r["user_id"]) for r in rows}


@dataclass(frozen=True)
class Order:
    id: int
    user_id: int
    site_id: int
    block_id: str
    title: str
    amount: int
    currency: str
    application_fee: int
    status: str
    buyer_email: str | None
    buyer_name: str | None
    stripe_account_id: str
    stripe_session_id: str | None
    stripe_payment_intent_id: str | None
    failure_reason: str | None
    paid_at: datetime | None
    refunded_at: datetime | None
    created_at: datetime


_ORDER_COLUMNS = (
    "id, user_id, site_id, block_id, title, amount, currency, application_fee, status, buyer_email, buyer_name, "
    "stripe_account_id, stripe_session_id, stripe_payment_intent_id, failure_reason, paid_at, refunded_at, created_at"
)


def _order(row: dict[str, Any] | None) -> Order | None:
    return Order(**row) if row else None


def insert_order(
    user_id: int, site_id: int, block_id: str, title: str, amount: int, currency: str, fee: int, account: str
) -> int:
    result = db.execute(
        "INSERT INTO orders (user_id, site_id, block_id, title, amount, currency, application_fee, stripe_account_id) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (user_id, site_id, block_id, title[:255], amount, currency, fee, account),
    )
    return result.lastrowid


def get_order(order_id: int, *, for_update: bool = False) -> Order | None:
    lock = " FOR UPDATE" if for_update else ""
    return _order(db.fetch_one(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE id = %s{lock}", (order_id,)))  # noqa: S608


def order_by_session(session_id: str) -> Order | None:
    return _order(db.fetch_one(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE stripe_session_id = %s", (session_id,)))  # noqa: S608


def order_by_intent(payment_intent_id: str) -> Order | None:
    return _order(
        db.fetch_one(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE stripe_payment_intent_id = %s ORDER BY id LIMIT 1",  # noqa: S608
            (payment_intent_id,),
        )
    )


_ORDER_UPDATABLE = {
    "status", "stripe_session_id", "stripe_payment_intent_id", "buyer_email", "buyer_name", "paid_at", "refunded_at",
    "failure_reason",
}  # fmt: skip


def update_order(order_id: int, *, only_from: tuple[str, ...] | None = None, **fields: Any) -> bool:
    """Like update_transaction: with `only_from`, the status transition is the guard."""
    unknown = set(fields) - _ORDER_UPDATABLE
    if unknown or not fields:
        raise ValueError(f"cannot update {sorted(unknown) or 'nothing'}")
    assignments = ", ".join(f"{name} = %s" for name in fields)
    sql = f"UPDATE orders SET {assignments} WHERE id = %s"  # noqa: S608 - names from _ORDER_UPDATABLE
    params: list[Any] = [*fields.values(), order_id]
    if only_from:
        sql += f" AND status IN ({', '.join(['%s'] * len(only_from))})"
        params += list(only_from)
    return db.execute(sql, params).rowcount == 1


def list_orders(user_id: int, site_id: int, limit: int, after_id: int | None) -> list[Order]:
    """A site's orders, newest first, keyset on id; always filtered by the owner too."""
    sql = f"SELECT {_ORDER_COLUMNS} FROM orders WHERE user_id = %s AND site_id = %s"  # noqa: S608
    params: list[Any] = [user_id, site_id]
    if after_id is not None:
        sql += " AND id < %s"
        params.append(after_id)
    sql += " ORDER BY id DESC LIMIT %s"
    params.append(limit)
    return [o for o in (_order(r) for r in db.fetch_all(sql, params)) if o is not None]


def fail_stale_orders(older_than: datetime, reason: str) -> int:
    """Pending orders that never got a Checkout Session (the creating call died): expired."""
    return db.execute(
        "UPDATE orders SET status = 'expired', failure_reason = %s "
        "WHERE status = 'pending' AND stripe_session_id IS NULL AND created_at < %s",
        (reason, older_than),
    ).rowcount


def transactions_of(user_id: int, limit: int) -> list[Transaction]:
    """A user's latest transactions (for staff)."""
    return list_transactions(user_id, limit, None)
