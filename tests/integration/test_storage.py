"""core/storage: the same keys and answers on the local folder and on S3 (moto)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib.core import config, storage


@pytest.fixture(params=["local", "s3"])
def store(request, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[str]:
    monkeypatch.setenv("STORAGE_BACKEND", request.param)
    monkeypatch.setenv("STORAGE_DIR", str(tmp_path / "storage"))
    monkeypatch.setenv("STORAGE_BUCKET", "mewayz-test-bucket")
    config.reset()
    storage.reset_clients()
    if request.param == "s3":
        with mock_aws():
            boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="mewayz-test-bucket")
            yield request.param
    else:
        yield request.param
    storage.reset_clients()


def test_put_then_get_returns_the_bytes_type_and_etag(store: str) -> None:
    etag = storage.put("sites/1/v1/index.html", "<h1>Hi</h1>", "text/html; charset=utf-8", "public, max-age=60")
    got = storage.get("sites/1/v1/index.html")
    assert got is not None
    assert got.body == b"<h1>Hi</h1>"
    assert got.content_type == "text/html; charset=utf-8"
    assert got.etag == etag and len(etag) == 32
    assert got.cache_control == "public, max-age=60"
    assert storage.exists("sites/1/v1/index.html")


def test_missing_objects_are_none(store: str) -> None:
    assert storage.get("sites/404/v1/index.html") is None
    assert not storage.exists("sites/404/v1/index.html")


def test_listing_and_deleting_a_prefix_leaves_neighbours(store: str) -> None:
    for key in ("sites/1/v1/index.html", "sites/1/v1/about/index.html", "sites/1/v2/index.html", "sites/10/v1/a.html"):
        storage.put(key, b"x", "text/html")
    assert storage.list_keys("sites/1/") == [
        "sites/1/v1/about/index.html",
        "sites/1/v1/index.html",
        "sites/1/v2/index.html",
    ]
    assert storage.delete_prefix("sites/1/v1/") == 2
    assert storage.list_keys("sites/1/") == ["sites/1/v2/index.html"]
    assert storage.list_keys("sites/10/") == ["sites/10/v1/a.html"]


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/../b", "a b", "", "a/./b", "x\\y"])
def test_keys_that_could_escape_or_alias_are_refused(key: str) -> None:
    with pytest.raises(ValueError):
        storage.check_key(key)


def test_presigned_put_is_s3_only(store: str) -> None:
    url = storage.presigned_put("uploads/1/a.jpg", "image/jpeg")
    if store == "local":
        assert url is None
    else:
        assert url is not None and "mewayz-test-bucket" in url and "Signature" in url


def test_local_files_are_written_outside_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    monkeypatch.delenv("STORAGE_DIR", raising=False)
    monkeypatch.delenv("STORAGE_BACKEND", raising=False)
    config.reset()
    project = Path(__file__).resolve().parents[2]
    assert project not in storage.local_root().parents
