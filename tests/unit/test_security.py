from __future__ import annotations

import bcrypt
import pytest

from chalicelib.core import security
from tests.clock import FrozenClock


def test_argon2id_hash_verifies_and_rejects() -> None:
    h = security.hash_password("correct horse battery")
    assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert security.verify_password(h, "correct horse battery") == (True, False)
    assert security.verify_password(h, "wrong horse battery") == (False, False)


def test_laravel_bcrypt_2y_hash_verifies_and_asks_for_rehash() -> None:
    legacy = bcrypt.hashpw(b"legacy-password-1", bcrypt.gensalt(rounds=4)).decode().replace("$2b$", "$2y$", 1)
    assert legacy.startswith("$2y$")
    assert security.verify_password(legacy, "legacy-password-1") == (True, True)
    assert security.verify_password(legacy, "not-the-password") == (False, False)


@pytest.mark.parametrize("garbage", ["", "plain", "$2y$broken", "$argon2id$nonsense", "$1$md5$x"])
def test_malformed_hashes_never_match_and_never_raise(garbage: str) -> None:
    assert security.verify_password(garbage, "anything") == (False, False)


def test_signed_token_round_trip_and_purpose_binding() -> None:
    token = security.sign("reset-password", {"uid": 7}, expires_in=60)
    assert security.unsign("reset-password", token)["uid"] == 7
    with pytest.raises(security.InvalidToken):
        security.unsign("verify-email", token)  # a token for one purpose is useless for another


def test_tampered_and_malformed_tokens_are_invalid() -> None:
    token = security.sign("p", {"uid": 7}, expires_in=60)
    data, mac = token.split(".")
    forged = security.sign("p", {"uid": 8}, expires_in=60).split(".")[0] + "." + mac
    for bad in (forged, data + "." + mac[:-2] + "AA", "", ".", "abc", data):
        with pytest.raises(security.InvalidToken):
            security.unsign("p", bad)


def test_expired_token_is_reported_as_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    token = security.sign("p", {"uid": 1}, expires_in=10)
    FrozenClock.install(monkeypatch, security).advance(11)  # only the security module's clock moves
    with pytest.raises(security.ExpiredToken):
        security.unsign("p", token)


def test_fingerprint_changes_with_state() -> None:
    assert security.fingerprint(1, "a") == security.fingerprint(1, "a")
    assert security.fingerprint(1, "a") != security.fingerprint(1, "b")
