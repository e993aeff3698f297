"""MySQL access: lazily opened pymysql connections, transactions, small query helpers.

One writer connection (and a reader when DATABASE_READER_URL is set) per thread of a
function instance, kept across invocations: checked out on first use in an invocation,
put back by `release()` (the middleware calls it when an invocation ends).

A connection taken back from the pool may have been dropped meanwhile (idle timeout,
failover, a frozen Lambda). Rather than pay a ping round trip on every invocation, its
first statement proves it: a read or BEGIN that finds it dead is safe to run again, so
it reconnects and retries once; a write outside a transaction pings first instead, so
nothing can run twice.
Every query is parameterised: pass values as `params`, never format them into SQL.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

from chalicelib.core import config
from chalicelib.core.errors import DependencyUnavailable

if TYPE_CHECKING:
    import ssl

    import pymysql

Params = Sequence[Any] | dict[str, Any] | None
Row = dict[str, Any]

# Client-side and server-side codes that mean "the connection or server is gone".
_UNAVAILABLE_CODES = {0, 1040, 1053, 1927, 2002, 2003, 2005, 2006, 2013, 2055}
DUPLICATE_KEY = 1062


class DatabaseUnavailable(DependencyUnavailable):
    def __init__(self, message: str = "The database is unavailable. Try again shortly.") -> None:
        super().__init__(message, dependency="database")


@dataclass(frozen=True)
class ConnectionParams:
    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def from_url(cls, url: str) -> ConnectionParams:
        parts = urlsplit(url)
        if parts.scheme not in ("mysql", "mysql+pymysql", "mariadb"):
            raise config.ConfigError("DATABASE_URL must look like mysql://user:pass@host:3306/name")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            database=parts.path.lstrip("/"),
        )


def connect(url: str, *, database: bool = True) -> pymysql.Connection:
    """Open a new autocommit connection (also used by migrations and tests)."""
    import pymysql
    import pymysql.cursors

    p = ConnectionParams.from_url(url)
    settings = config.get_settings()
    try:
        return pymysql.connect(
            host=p.host,
            port=p.port,
            user=p.user,
            password=p.password,
            database=p.database if database else None,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=settings.db_connect_timeout,
            read_timeout=settings.db_read_timeout,
            write_timeout=settings.db_read_timeout,
            cursorclass=pymysql.cursors.DictCursor,
            init_command="SET time_zone = '+00:00'",
            ssl=_tls_context() if settings.db_tls else None,
        )
    except pymysql.err.OperationalError as exc:
        raise DatabaseUnavailable() from exc


def _tls_context() -> ssl.SSLContext:
    """Verified TLS with the system's CAs: RDS Proxy presents an ACM certificate."""
    import ssl

    return ssl.create_default_context()


class _Slot:
    """Connections for one endpoint (writer or reader): one checked out per thread."""

    def __init__(self, url_of: Callable[[config.Settings], str]) -> None:
        self._url_of = url_of
        self._idle: list[pymysql.Connection] = []
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def url(self) -> str:
        return self._url_of(config.get_settings())

    def current(self) -> pymysql.Connection | None:
        return getattr(self._local, "conn", None)

    def checkout(self) -> pymysql.Connection:
        conn = self.current()
        if conn is not None:
            return conn
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        # A new connection is known good; a pooled one is proven by its first statement.
        self._local.verified = conn is None
        if conn is None:
            conn = connect(self.url)
        self._local.conn = conn
        return conn

    @property
    def verified(self) -> bool:
        return getattr(self._local, "verified", True)

    def mark_verified(self) -> None:
        self._local.verified = True

    def checkout_alive(self) -> pymysql.Connection:
        """A connection pinged if unproven: for writes, which must never run twice."""
        conn = self.checkout()
        if not self.verified:
            if not _alive(conn):
                self.discard()
                conn = self.checkout()
            self.mark_verified()
        return conn

    def release(self) -> None:
        conn = self.current()
        if conn is None:
            return
        self._local.conn = None
        with self._lock:
            self._idle.append(conn)

    def discard(self) -> None:
        conn = self.current()
        self._local.conn = None
        if conn is not None:
            _close_quietly(conn)

    def close_all(self) -> None:
        self.discard()
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close_quietly(conn)


def _alive(conn: pymysql.Connection) -> bool:
    try:
        conn.ping(reconnect=False)
        return True
    except Exception:  # noqa: BLE001 - any failure means "open a new one"
        return False


def _close_quietly(conn: pymysql.Connection) -> None:
    with contextlib.suppress(Exception):  # already broken; nothing more to do
        conn.close()


_writer = _Slot(lambda s: s.database_url)
_reader = _Slot(lambda s: s.database_reader_url)
_tx = threading.local()


def _in_transaction() -> bool:
    return getattr(_tx, "depth", 0) > 0


def _slot(reader: bool) -> _Slot:
    if reader and not _in_transaction() and config.get_settings().database_reader_url:
        return _reader
    return _writer


def _is_gone(exc: BaseException) -> bool:
    import pymysql

    if isinstance(exc, pymysql.err.InterfaceError):
        return True
    if isinstance(exc, pymysql.err.OperationalError):
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        return code in _UNAVAILABLE_CODES
    return False


@contextmanager
def _translated(slot: _Slot) -> Iterator[None]:
    """Turn 'server gone' errors into DatabaseUnavailable and drop the broken connection."""
    try:
        yield
    except Exception as exc:
        if _is_gone(exc):
            slot.discard()
            raise DatabaseUnavailable() from exc
        raise


T = TypeVar("T")


def _on_connection(slot: _Slot, operation: Callable[[pymysql.Connection], T], *, rerunnable: bool) -> T:
    """Run `operation` on this thread's connection (see the module docstring for retries)."""
    with _translated(slot):
        if not rerunnable:
            return operation(slot.checkout_alive())
        conn = slot.checkout()
        if not slot.verified:
            try:
                result = operation(conn)
            except Exception as exc:
                if not _is_gone(exc):
                    raise
                slot.discard()  # dropped while pooled; running it again is harmless
                result = operation(slot.checkout())
            slot.mark_verified()
            return result
        return operation(conn)


def _run(sql: str, params: Params, reader: bool, fetch: str) -> Any:
    def operation(conn: pymysql.Connection) -> Any:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            if fetch == "one":
                return cur.fetchone()
            if fetch == "all":
                return list(cur.fetchall())
            return Result(rowcount=cur.rowcount, lastrowid=cur.lastrowid)

    return _on_connection(_slot(reader), operation, rerunnable=fetch != "none")


@dataclass(frozen=True)
class Result:
    rowcount: int
    lastrowid: int


def fetch_one(sql: str, params: Params = None, *, reader: bool = False) -> Row | None:
    return _run(sql, params, reader, "one")


def fetch_all(sql: str, params: Params = None, *, reader: bool = False) -> list[Row]:
    return _run(sql, params, reader, "all")


def execute(sql: str, params: Params = None) -> Result:
    return _run(sql, params, False, "none")


def execute_many(sql: str, rows: Sequence[Params]) -> int:
    def operation(conn: pymysql.Connection) -> int:
        with conn.cursor() as cur:
            return cur.executemany(sql, rows) or 0

    return _on_connection(_writer, operation, rerunnable=False)


@contextmanager
def transaction() -> Iterator[None]:
    """Run the block in one writer transaction; nested blocks join the outer one.

    Callbacks registered with `on_commit` run after the outermost commit, so work
    handed to events never sees data that was rolled back.
    """
    depth = getattr(_tx, "depth", 0)
    if depth:
        _tx.depth = depth + 1
        try:
            yield
        finally:
            _tx.depth -= 1
        return

    def begin(c: pymysql.Connection) -> pymysql.Connection:
        c.begin()
        return c

    conn = _on_connection(_writer, begin, rerunnable=True)
    _tx.depth, _tx.callbacks = 1, []
    try:
        yield
        with _translated(_writer):
            conn.commit()
    except BaseException:
        _tx.depth, _tx.callbacks = 0, []
        try:
            conn.rollback()
        except Exception:  # noqa: BLE001 - the connection may be the reason we are here
            _writer.discard()
        raise
    callbacks = _tx.callbacks
    _tx.depth, _tx.callbacks = 0, []
    for callback in callbacks:
        callback()


def on_commit(callback: Callable[[], None]) -> None:
    """Run `callback` after the current transaction commits, or now if there is none."""
    if _in_transaction():
        _tx.callbacks.append(callback)
    else:
        callback()


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own % _ and \\ taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def is_duplicate_key(exc: BaseException) -> bool:
    import pymysql

    return isinstance(exc, pymysql.err.IntegrityError) and bool(exc.args) and exc.args[0] == DUPLICATE_KEY


def connection_id() -> int:
    row = fetch_one("SELECT CONNECTION_ID() AS id")
    return int(row["id"]) if row else 0


def ping() -> None:
    """Cheap liveness check for health: one round trip on the writer."""
    fetch_one("SELECT 1 AS ok")


def release() -> None:
    """End of an invocation: return this thread's connections for the next one."""
    if _in_transaction():
        return
    _writer.release()
    _reader.release()


def close_all() -> None:
    """Close every connection (tests, and settings changes between them)."""
    _writer.close_all()
    _reader.close_all()
