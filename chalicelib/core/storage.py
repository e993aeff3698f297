"""Object storage: S3 in AWS, a folder on local stages (moto's S3 in tests that want it).

Keys are relative '/'-separated paths ("sites/12/v3/index.html"); the same key means the
same object on both backends, so code above this module never knows which one runs.
The local folder lives outside the checkout (see `config.Settings.runtime_dir`), so the
local server's reloader never restarts because a file was written.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib.core import config

_SAFE_KEY = re.compile(r"^[A-Za-z0-9._~@+=-]+(?:/[A-Za-z0-9._~@+=-]+)*$")
_lock = threading.Lock()
_s3: Any = None


class StorageError(RuntimeError):
    """The store did not answer (S3 unavailable); callers decide whether to retry."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    body: bytes
    content_type: str
    etag: str
    cache_control: str | None = None


def backend() -> str:
    s = config.get_settings()
    return s.storage_backend or ("local" if s.is_local else "s3")


def check_key(key: str) -> str:
    """`key` when it is a plain relative path (no '..', no empty or hidden-only segments)."""
    if not isinstance(key, str) or len(key) > 1024 or not _SAFE_KEY.match(key):
        raise ValueError(f"invalid storage key {key!r}")
    if any(part in (".", "..") for part in key.split("/")):
        raise ValueError(f"invalid storage key {key!r}")
    return key


def _etag(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()  # what S3 reports for one-part uploads


# ---- local folder ---------------------------------------------------------------------------


def local_root() -> Path:
    s = config.get_settings()
    return Path(s.storage_dir) if s.storage_dir else s.runtime_dir / "storage" / s.stage


def _local_paths(key: str) -> tuple[Path, Path]:
    root = local_root()
    return root / "objects" / key, root / "meta" / (key + ".json")


def _local_put(key: str, body: bytes, content_type: str, cache_control: str | None) -> str:
    data_path, meta_path = _local_paths(key)
    data_path.parent.mkdir(parents=True, exist_ok=True)
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    etag = _etag(body)
    tmp = data_path.with_name(data_path.name + ".tmp")
    tmp.write_bytes(body)
    tmp.replace(data_path)  # readers see the old file or the new one, never half of it
    meta_path.write_text(json.dumps({"content_type": content_type, "etag": etag, "cache_control": cache_control}))
    return etag


def _local_get(key: str) -> StoredObject | None:
    data_path, meta_path = _local_paths(key)
    if not data_path.is_file():
        return None
    body = data_path.read_bytes()
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
    return StoredObject(
        key=key,
        body=body,
        content_type=meta.get("content_type") or "application/octet-stream",
        etag=meta.get("etag") or _etag(body),
        cache_control=meta.get("cache_control"),
    )


def _local_keys(prefix: str) -> list[str]:
    base = local_root() / "objects"
    if not base.is_dir():
        return []
    keys = []
    for path in base.rglob("*"):
        if path.is_file() and not path.name.endswith(".tmp"):
            key = path.relative_to(base).as_posix()
            if key.startswith(prefix):
                keys.append(key)
    return sorted(keys)


def _local_delete(keys: list[str]) -> None:
    for key in keys:
        for path in _local_paths(key):
            path.unlink(missing_ok=True)


# ---- S3 ---------------------------------------------------------------------------------------


def _client() -> Any:
    global _s3
    if _s3 is None:
        with _lock:
            if _s3 is None:
                import boto3

                _s3 = boto3.client("s3", region_name=config.get_settings().aws_region)
    return _s3


def bucket() -> str:
    s = config.get_settings()
    return s.storage_bucket or f"mewayz-{s.stage}-storage"


def _s3_call(operation: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return operation(_client())
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise StorageError(str(exc)) from exc
    except BotoCoreError as exc:
        raise StorageError(str(exc)) from exc


# ---- the interface ---------------------------------------------------------------------------


def put(key: str, body: bytes | str, content_type: str, cache_control: str | None = None) -> str:
    """Write one object (replacing it); its ETag."""
    check_key(key)
    data = body.encode() if isinstance(body, str) else body
    if backend() == "local":
        return _local_put(key, data, content_type, cache_control)
    extra = {"CacheControl": cache_control} if cache_control else {}
    result = _s3_call(lambda c: c.put_object(Bucket=bucket(), Key=key, Body=data, ContentType=content_type, **extra))
    return str(result["ETag"]).strip('"')


def get(key: str) -> StoredObject | None:
    """The object, or None when there is none at `key`."""
    check_key(key)
    if backend() == "local":
        return _local_get(key)
    result = _s3_call(lambda c: c.get_object(Bucket=bucket(), Key=key))
    if result is None:
        return None
    return StoredObject(
        key=key,
        body=result["Body"].read(),
        content_type=result.get("ContentType") or "application/octet-stream",
        etag=str(result.get("ETag", "")).strip('"'),
        cache_control=result.get("CacheControl"),
    )


def exists(key: str) -> bool:
    check_key(key)
    if backend() == "local":
        return _local_paths(key)[0].is_file()
    return _s3_call(lambda c: c.head_object(Bucket=bucket(), Key=key)) is not None


def list_keys(prefix: str) -> list[str]:
    """Every key starting with `prefix`, sorted."""
    if backend() == "local":
        return _local_keys(prefix)
    keys: list[str] = []
    paginator = _client().get_paginator("list_objects_v2")
    try:
        for page in paginator.paginate(Bucket=bucket(), Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
    except Exception as exc:
        raise StorageError(str(exc)) from exc
    return sorted(keys)


def delete(*keys: str) -> None:
    for key in keys:
        check_key(key)
    if not keys:
        return
    if backend() == "local":
        _local_delete(list(keys))
        return
    for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
        chunk = [{"Key": k} for k in keys[start : start + 1000]]
        _s3_call(lambda c, chunk=chunk: c.delete_objects(Bucket=bucket(), Delete={"Objects": chunk, "Quiet": True}))


def delete_prefix(prefix: str) -> int:
    """Delete every object under `prefix` (which must end with '/'); how many there were."""
    if not prefix.endswith("/"):
        raise ValueError("delete_prefix needs a folder-like prefix ending with '/'")
    check_key(prefix.rstrip("/"))
    keys = list_keys(prefix)
    delete(*keys)
    if backend() == "local":
        for sub in ("objects", "meta"):
            shutil.rmtree(local_root() / sub / prefix, ignore_errors=True)
    return len(keys)


def presigned_put(key: str, content_type: str, expires_s: int = 900) -> str | None:
    """A URL a browser can PUT the object to directly (S3); None on the local backend,
    where the app receives uploads itself."""
    check_key(key)
    if backend() == "local":
        return None
    return str(
        _client().generate_presigned_url(
            "put_object",
            Params={"Bucket": bucket(), "Key": key, "ContentType": content_type},
            ExpiresIn=expires_s,
        )
    )


def reset_clients() -> None:
    """Forget the S3 client (tests switch moto on and off)."""
    global _s3
    _s3 = None
