"""Password hashing, random tokens and signed expiring tokens.

Passwords: argon2id with OWASP's parameters (19 MiB, t=2, p=1). Users imported from
the Laravel platform keep their bcrypt `$2y$` hashes; those verify and report that a
re-hash is due, which the login service does at once.

Signed tokens (email verification, password reset) carry their purpose, expiry and a
fingerprint of the account state they act on. Using one changes that state, so the
same link cannot work twice — single use without a table of used tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from chalicelib.core import config

if TYPE_CHECKING:
    from argon2 import PasswordHasher


class InvalidToken(ValueError):
    """Signature, purpose or format is wrong."""


class ExpiredToken(InvalidToken):
    pass


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher, Type

    return PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> tuple[bool, bool]:
    """(matches, needs_rehash). Never raises for a malformed hash: it simply does not match."""
    if stored_hash.startswith(("$2y$", "$2b$", "$2a$")):
        import bcrypt

        candidate = "$2b$" + stored_hash[4:]  # PHP's $2y$ is the same algorithm as $2b$
        try:
            ok = bcrypt.checkpw(password.encode()[:72], candidate.encode())
        except ValueError:
            return False, False
        return ok, ok
    if not stored_hash.startswith("$argon2"):
        return False, False
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False, False
    return True, _hasher().check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A real hash to verify against when the account does not exist (equal timing)."""
    return hash_password(secrets.token_urlsafe(16))


def now() -> float:
    """The clock of signed tokens (tests move it to check link lifetimes)."""
    return time.time()


def constant_time_equal(a: str, b: str) -> bool:
    """Compare secrets in constant time; any text (hmac.compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def fingerprint(*parts: object) -> str:
    """A short keyed digest of account state, embedded in single-use signed tokens."""
    msg = "|".join("" if p is None else str(p) for p in parts)
    return _mac("fingerprint", msg.encode())[:22]


def _key() -> bytes:
    return config.get_settings().secret_key.encode()


def _mac(purpose: str, data: bytes) -> str:
    digest = hmac.new(_key(), purpose.encode() + b"\x00" + data, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def keyed_hash(purpose: str, value: str) -> str:
    return _mac(purpose, value.encode())


def sign(purpose: str, payload: dict[str, Any], expires_in: int) -> str:
    body = dict(payload, exp=int(now()) + expires_in)
    data = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).rstrip(b"=")
    return data.decode() + "." + _mac(purpose, data)


def unsign(purpose: str, token: str) -> dict[str, Any]:
    data, _, mac = token.partition(".")
    if not data or not mac or not data.isascii() or not constant_time_equal(mac, _mac(purpose, data.encode())):
        raise InvalidToken("bad signature")
    try:
        body = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    except ValueError as exc:
        raise InvalidToken("bad payload") from exc
    if not isinstance(body, dict) or not isinstance(body.get("exp"), int):
        raise InvalidToken("bad payload")
    if body["exp"] < now():
        raise ExpiredToken("expired")
    return body
