from __future__ import annotations

import pytest

from chalicelib.accounts import seed, store
from chalicelib.core import config, db, security


def test_seed_creates_verified_demo_logins_once() -> None:
    first = seed.seed("a-long-unusual-passphrase")
    second = seed.seed("a-long-unusual-passphrase")
    assert [created for _, _, created in first] == [True, True]
    assert [created for _, _, created in second] == [False, False]
    assert db.fetch_one("SELECT COUNT(*) AS n FROM users")["n"] == 2
    admin = store.get_user_by_email("admin@mewayz.local")
    assert admin.role == "super_admin" and admin.email_verified
    assert security.verify_password(admin.password_hash, "a-long-unusual-passphrase")[0]


def test_seed_resets_a_drifted_demo_account() -> None:
    seed.seed("a-long-unusual-passphrase")
    demo = store.get_user_by_email("demo@mewayz.local")
    store.set_status(demo.id, "suspended")
    seed.seed("another-long-passphrase")
    demo = store.get_user_by_email("demo@mewayz.local")
    assert demo.status == "active"
    assert security.verify_password(demo.password_hash, "another-long-passphrase")[0]


def test_seed_refuses_weak_passwords_and_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit):
        seed.seed("short")
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    config.reset()
    assert seed.main() == 1
    assert db.fetch_one("SELECT COUNT(*) AS n FROM users")["n"] == 0
