"""CRM: CSV import throughput and the contacts list's keyset pages.

- `import_rows_per_s`: a --crm-import-rows CSV (default 100,000 rows: UTF-8, semicolons,
  a tag per row, a custom field, 1 in 20 rows repeating an earlier address in capitals)
  through the real path: `imports.start` stores the file, publishes `crm.import`, and the
  in-process event function applies it in 1,000-row chunks (multi-row upserts, tags,
  activities, the checkpoint per chunk). Timed from the upload to the import being done.
- `import_ratio_to_naive`: against the naive import measured in the same run: one INSERT
  per row in its own transaction (contacts only, no tags or activities), over
  --crm-naive-rows rows (default 20,000), as rows per second. Shown beside it, not in the
  ratio: the same per-row INSERTs committed every 1,000 rows (`naive_batched_commits_rows_per_s`).
- `list_page_ratio`: p50 of `service.list_contacts` (the API list: 20 contacts and their
  tags) for a page deep into --crm-list-contacts contacts (default 1,000,000; its cursor
  points 1,000 rows before the oldest) over the p50 of the first page, interleaved.
  The list's owner is kept between runs (`bench-crm-list@example.com`): loading a million
  rows takes minutes, so a later run reuses them when the count matches.
Goals (issue 11): >= 20,000 rows/s, >= 10x naive, <= 1.5x.
"""

from __future__ import annotations

import statistics
import time
import uuid
from typing import Any

GOAL_ROWS_PER_S = 20_000
GOAL_RATIO_TO_NAIVE = 10.0
GOAL_LIST_RATIO = 1.5
LIST_OWNER = "bench-crm-list@example.com"


def add_arguments(parser: Any) -> None:
    parser.add_argument("--crm-import-rows", type=int, default=100_000, help="rows of the timed import")
    parser.add_argument("--crm-naive-rows", type=int, default=20_000, help="rows of the naive floor")
    parser.add_argument("--crm-list-contacts", type=int, default=1_000_000, help="contacts behind the list")
    parser.add_argument("--crm-list-samples", type=int, default=200, help="requests per page measured")


def _csv(rows: int) -> bytes:
    lines = ["email;name;tags;city"]
    for i in range(rows):
        if i % 20 == 19:
            lines.append(f"ROW{i - 7}@BENCH.EXAMPLE;;repeat;")
        else:
            lines.append(f"row{i}@bench.example;Row {i};t{i % 50};City {i % 300}")
    return ("\n".join(lines) + "\n").encode()


def _user(email: str) -> Any:
    from chalicelib.accounts import store as accounts_store

    user_id = accounts_store.insert_user("Bench CRM", email, "x", verified=True)
    accounts_store.set_plan(user_id, "enterprise", None)  # no contact quota in the way
    return accounts_store.get_user(user_id)


def _import(rows: int) -> tuple[float, dict[str, Any]]:
    from chalicelib.core import db
    from chalicelib.crm import imports

    user = _user(f"bench-crm-{uuid.uuid4().hex[:10]}@example.com")
    body = _csv(rows)
    try:
        started = time.perf_counter()
        result = imports.start(user, body)  # in-process: returns once the event function is done
        elapsed = time.perf_counter() - started
        assert result["status"] == "done", result
        assert result["created"] + result["updated"] + result["skipped"] == rows, result
        return elapsed, result
    finally:
        db.execute("DELETE FROM users WHERE id = %s", (user.id,))


def _naive(rows: int, *, commit_every: int = 1) -> float:
    """The naive import: one INSERT per row with bare pymysql, each row its own transaction
    (autocommit), or a commit every `commit_every` rows."""
    import pymysql

    from chalicelib.core import config, db

    user = _user(f"bench-crm-naive-{uuid.uuid4().hex[:10]}@example.com")
    p = db.ConnectionParams.from_url(config.get_settings().database_url)
    conn = pymysql.connect(host=p.host, port=p.port, user=p.user, password=p.password, database=p.database,
                           autocommit=commit_every == 1, init_command="SET time_zone = '+00:00'")  # fmt: skip
    try:
        started = time.perf_counter()
        with conn.cursor() as cur:
            for i in range(rows):
                email = f"naive{i}@bench.example"
                cur.execute(
                    "INSERT INTO contacts (user_id, email, email_canonical, name, fields, source) "
                    "VALUES (%s, %s, %s, %s, %s, 'import')",
                    (user.id, email, email, f"Row {i}", '{"city": "x"}'),
                )
                if commit_every > 1 and i % commit_every == commit_every - 1:
                    conn.commit()
            if commit_every > 1:
                conn.commit()
        return time.perf_counter() - started
    finally:
        conn.close()
        db.execute("DELETE FROM users WHERE id = %s", (user.id,))


def _list_owner(contacts: int) -> Any:
    """The list's owner with `contacts` contacts (kept between runs; loaded in 5,000-row INSERTs)."""
    from chalicelib.accounts import store as accounts_store
    from chalicelib.core import db

    user = accounts_store.get_user_by_email(LIST_OWNER)
    if user is not None:
        have = db.fetch_one("SELECT COUNT(*) AS n FROM contacts WHERE user_id = %s", (user.id,))["n"]
        if have == contacts:
            return user
        db.execute("DELETE FROM users WHERE id = %s", (user.id,))
    user = _user(LIST_OWNER)
    batch = 5000
    for start in range(0, contacts, batch):
        n = min(batch, contacts - start)
        marks = ", ".join(["(%s, %s, %s, %s, '{}', 'import')"] * n)
        values: list[Any] = []
        for i in range(start, start + n):
            email = f"c{i}@list.example"
            values += [user.id, email, email, f"Contact {i}"]
        db.execute(
            "INSERT INTO contacts (user_id, email, email_canonical, name, fields, source) VALUES " + marks,  # noqa: S608
            values,
        )
        tag_rows = db.fetch_all(
            "SELECT id FROM contacts WHERE user_id = %s ORDER BY id DESC LIMIT %s", (user.id, n)
        )  # a tag on every 10th contact, so the page's tag lookup has rows to find
        tags = [(r["id"], "vip", user.id) for r in tag_rows if r["id"] % 10 == 0]
        if tags:
            db.execute(
                "INSERT IGNORE INTO contact_tags (contact_id, tag, user_id) VALUES "  # noqa: S608
                + ", ".join(["(%s, %s, %s)"] * len(tags)),
                [v for t in tags for v in t],
            )
    return user


def _list_pages(contacts: int, samples: int) -> dict[str, Any]:
    from chalicelib.core import db, pagination
    from chalicelib.crm import service

    loading = time.perf_counter()
    user = _list_owner(contacts)
    load_s = time.perf_counter() - loading
    oldest = db.fetch_one("SELECT MIN(id) AS id FROM contacts WHERE user_id = %s", (user.id,))["id"]
    deep_cursor = pagination.encode_cursor(oldest + 1000)
    first, deep = [], []
    for _ in range(20):  # warm-up
        service.list_contacts(user, {}, 20, None)
        service.list_contacts(user, {}, 20, deep_cursor)
    for _ in range(samples):
        t = time.perf_counter()
        page, _ = service.list_contacts(user, {}, 20, None)
        first.append(time.perf_counter() - t)
        t = time.perf_counter()
        page_deep, _ = service.list_contacts(user, {}, 20, deep_cursor)
        deep.append(time.perf_counter() - t)
        assert len(page) == 20 and len(page_deep) == 20
    p50_first, p50_deep = statistics.median(first), statistics.median(deep)
    return {
        "list_contacts": contacts,
        "list_load_s": round(load_s, 1),
        "list_first_page_p50_ms": round(p50_first * 1000, 2),
        "list_deep_page_p50_ms": round(p50_deep * 1000, 2),
        "list_page_ratio": round(p50_deep / p50_first, 2) if p50_first else None,
    }


def run(args: Any) -> dict[str, Any]:
    import os
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    if root not in sys.path:
        sys.path.insert(0, root)

    import app  # noqa: F401 - registers the event functions
    from chalicelib.core import config, db

    os.environ["EVENTS_BACKEND"] = "inprocess"
    config.reset()
    rows = max(1000, getattr(args, "crm_import_rows", 100_000))
    naive_rows = max(1000, getattr(args, "crm_naive_rows", 20_000))
    try:
        naive_s = _naive(naive_rows)
        import_s, result = _import(rows)
        naive_again = _naive(naive_rows)  # before and after, so drift hits both alike
        batched_s = _naive(naive_rows, commit_every=1000)
        listing = _list_pages(max(1000, getattr(args, "crm_list_contacts", 1_000_000)),
                              max(10, getattr(args, "crm_list_samples", 200)))  # fmt: skip
    finally:
        config.reset()
        db.close_all()
    rows_per_s = rows / import_s
    naive_per_s = naive_rows / statistics.median([naive_s, naive_again])
    return {
        "import_rows": rows,
        "import_s": round(import_s, 2),
        "import_rows_per_s": round(rows_per_s),
        "import_created": result["created"],
        "import_updated": result["updated"],
        "naive_rows": naive_rows,
        "naive_rows_per_s": round(naive_per_s),
        "import_ratio_to_naive": round(rows_per_s / naive_per_s, 2),
        "naive_batched_commits_rows_per_s": round(naive_rows / batched_s),
        **listing,
        "goals": {
            "import_rows_per_s": GOAL_ROWS_PER_S,
            "import_ratio_to_naive": GOAL_RATIO_TO_NAIVE,
            "list_page_ratio": GOAL_LIST_RATIO,
        },
    }


def table(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"import {result['import_rows']:,} rows: {result['import_s']} s = {result['import_rows_per_s']:,} rows/s "
            f"(goal >= {GOAL_ROWS_PER_S:,}); naive one INSERT per row: {result['naive_rows_per_s']:,} rows/s "
            f"({result['naive_batched_commits_rows_per_s']:,} committing every 1,000); "
            f"ratio {result['import_ratio_to_naive']}x (goal >= {GOAL_RATIO_TO_NAIVE:g}x)",
            f"list over {result['list_contacts']:,} contacts: first page p50 {result['list_first_page_p50_ms']} ms, "
            f"deep page p50 {result['list_deep_page_p50_ms']} ms, ratio {result['list_page_ratio']} "
            f"(goal <= {GOAL_LIST_RATIO})",
        ]
    )
