"""Load of the payments area: signed Stripe webhook deliveries, some of them repeated.

Each new event is a `checkout.session.completed` for a one-time pass bought by one of
the load users (a pending transaction made in setup), signed as Stripe signs it; about
one delivery in five repeats an event this worker already sent (Stripe retries, and may
deliver twice), re-signed with a fresh timestamp. With the in-process event backend the
event is applied inside the delivery's invocation, after its commit.

Afterwards every distinct event must be stored once (one stripe_events row, every
delivery counted in `deliveries`), applied once (processed, one attempt, one claim in
processed_events), and its transaction paid.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from typing import Any

from _base import Call, Kind

SECRET = "whsec_mewayz_load"  # noqa: S105 - the load's own webhook secret (scripts/load.py LOAD_ENV)
USERS = 8
TRANSACTIONS = 20_000  # pending passes to pay; events pick one at random
REPEAT = 0.2
CLAIM = "payments.stripe_event"
_sent: list[bytes] = []  # this worker's events, for repeats


def _signed(payload: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "Stripe-Signature": f"t={stamp},v1={mac}"}


def _delivery(fixtures: dict[str, Any], rng: random.Random) -> Call:
    if _sent and rng.random() < REPEAT:
        payload = rng.choice(_sent)
    else:
        n = rng.getrandbits(64)
        first, count = fixtures["transactions"]
        tx_id = first + rng.randrange(count)
        event = {
            "id": f"evt_load_{fixtures['run']}_{n:016x}",
            "object": "event",
            "type": "checkout.session.completed",
            "created": int(time.time()),
            "livemode": False,
            "data": {
                "object": {
                    "id": f"cs_load_{fixtures['run']}_{n:016x}",
                    "object": "checkout.session",
                    "mode": "payment",
                    "payment_status": "paid",
                    "client_reference_id": str(tx_id),
                    "payment_intent": f"pi_load_{fixtures['run']}_{n:016x}",
                    "metadata": {"kind": "plan"},
                }
            },
        }
        payload = json.dumps(event, separators=(",", ":")).encode()
        _sent.append(payload)
    return Call(
        method="POST",
        path="/api/webhooks/stripe",
        body=payload,
        headers=_signed(payload),
        ip="54.187.174.169",  # one of Stripe's webhook addresses
        ok=(200,),
        record=lambda r: [r["id"], (json.loads(payload)["data"]["object"]["client_reference_id"])],
    )


KINDS = [Kind("POST /api/webhooks/stripe", 1, _delivery)]


def setup(ctx: Any) -> dict[str, Any]:
    """USERS users and TRANSACTIONS pending pass purchases spread over them (one INSERT)."""
    from chalicelib.accounts import store as accounts_store
    from chalicelib.core import db
    from chalicelib.payments import packages

    package = packages.get("starter_pass")
    assert package is not None and package.is_pass
    users = [
        accounts_store.insert_user(f"Load buyer {i}", f"load-{ctx.run}-buyer{i}@example.com", "x", verified=True)
        for i in range(USERS)
    ]
    first = None
    with db.transaction():
        for start in range(0, TRANSACTIONS, 1000):
            rows = [
                (users[i % USERS], package.id, package.amount, package.currency) for i in range(start, start + 1000)
            ]
            marks = ", ".join(["(%s, 'plan', %s, 'payment', %s, %s, 'pending', '{}')"] * len(rows))
            columns = "user_id, kind, package_id, mode, amount, currency, status, metadata"
            sql = f"INSERT INTO payment_transactions ({columns}) VALUES {marks}"  # noqa: S608 - placeholders only
            result = db.execute(sql, [v for row in rows for v in row])
            first = first or result.lastrowid  # InnoDB gives one multi-row INSERT consecutive ids
    assert first is not None
    return {"run": ctx.run, "transactions": [first, TRANSACTIONS]}


def lost(fixtures: dict[str, Any], accepted: dict[str, list[Any]]) -> dict[str, int]:
    """Per distinct event: stored once with every delivery counted, applied once, its
    transaction paid."""
    from chalicelib.core import db

    deliveries = accepted.get("POST /api/webhooks/stripe", [])
    ids = sorted({event_id for event_id, _tx in deliveries})
    transactions = sorted({int(tx) for _event_id, tx in deliveries})
    stored = applied = claimed = counted = paid = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join(["%s"] * len(chunk))
        sums = "COUNT(*) AS n, COALESCE(SUM(deliveries), 0) AS deliveries, "
        sums += "COALESCE(SUM(processed_at IS NOT NULL AND attempts = 1), 0) AS applied"
        sql = f"SELECT {sums} FROM stripe_events WHERE stripe_event_id IN ({marks})"  # noqa: S608 - placeholders only
        row = db.fetch_one(sql, chunk)
        stored, counted, applied = stored + row["n"], counted + int(row["deliveries"]), applied + int(row["applied"])
        claimed += db.fetch_one(
            f"SELECT COUNT(*) AS n FROM processed_events WHERE handler = %s AND event_id IN ({marks})",  # noqa: S608
            [CLAIM, *chunk],
        )["n"]
    for start in range(0, len(transactions), 500):
        chunk = transactions[start : start + 500]
        marks = ", ".join(["%s"] * len(chunk))
        paid += db.fetch_one(
            f"SELECT COUNT(*) AS n FROM payment_transactions WHERE status = 'paid' AND id IN ({marks})",  # noqa: S608
            chunk,
        )["n"]
    return {
        "stripe events stored": len(ids) - stored,
        "stripe deliveries counted": max(0, len(deliveries) - counted),
        "stripe events applied once": len(ids) - applied,
        "stripe events claimed": len(ids) - claimed,
        "transactions paid": len(transactions) - paid,
    }
