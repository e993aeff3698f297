"""The CDN in front of published sites: which files a hostname serves, and cache purges.

Three things, the same interface on every stage:

- **routes**: hostname -> the storage prefix of the version it serves
  (`alice.mewayz.site` -> `sites/12/v3`). In AWS a CloudFront KeyValueStore read by the
  distribution's viewer-request function (infrastructure/template.json), so switching a
  site's live version is one key write and a page view runs no Lambda. Locally (and in
  tests) the "local router": one small file per hostname, read by the local server.
- **aliases**: custom domains the distribution answers for (CloudFront alternate domain
  names, UpdateDistribution; a record in the local router).
- **invalidations**: CloudFront CreateInvalidation (moto in tests); a log line locally.

Backends: CDN_BACKEND=cloudfront|local (default local on local stages). boto3 is
imported on first use, never at import.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from chalicelib.core import config, observability
from chalicelib.core.errors import DependencyUnavailable

_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
_lock = threading.Lock()
_clients: dict[str, Any] = {}


class CdnUnavailable(DependencyUnavailable):
    def __init__(self, message: str = "The CDN did not answer. Try again shortly.") -> None:
        super().__init__(message, dependency="cdn")


def backend() -> str:
    s = config.get_settings()
    return s.cdn_backend or ("local" if s.is_local else "cloudfront")


def check_host(host: str) -> str:
    host = (host or "").strip().lower().rstrip(".")
    if not _HOST.match(host):
        raise ValueError(f"invalid hostname {host!r}")
    return host


# ---- the local router ----------------------------------------------------------------------


def local_dir() -> Path:
    s = config.get_settings()
    return s.runtime_dir / "cdn" / s.stage


def _record(kind: str, host: str) -> Path:
    return local_dir() / kind / check_host(host)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text)
    tmp.replace(path)  # a reader sees the old route or the new one


# ---- AWS ---------------------------------------------------------------------------------------


def _client(service: str) -> Any:
    if service not in _clients:
        with _lock:
            if service not in _clients:
                import boto3

                _clients[service] = boto3.client(service, region_name="us-east-1")  # CloudFront is global
    return _clients[service]


def _aws(operation: Any) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return operation()
    except (BotoCoreError, ClientError) as exc:
        observability.logger().warning("cdn call failed", extra={"error": str(exc)})
        raise CdnUnavailable() from exc


def _kvs_etag(kvs: Any, arn: str) -> str:
    return str(kvs.describe_key_value_store(KvsARN=arn)["ETag"])


# ---- routes --------------------------------------------------------------------------------


def set_route(host: str, prefix: str) -> None:
    """Serve `host` from the files under `prefix` (e.g. sites/12/v3)."""
    host = check_host(host)
    if backend() == "local":
        _write(_record("routes", host), prefix)
        return
    arn = config.get_settings().sites_kvs_arn
    if not arn:
        observability.logger().warning("SITES_KVS_ARN not set; route not written", extra={"host": host})
        return
    kvs = _client("cloudfront-keyvaluestore")
    _aws(lambda: kvs.put_key(KvsARN=arn, Key=host, Value=prefix, IfMatch=_kvs_etag(kvs, arn)))


def remove_route(host: str) -> None:
    """Stop serving `host` (its visitors get the CDN's 404)."""
    host = check_host(host)
    if backend() == "local":
        _record("routes", host).unlink(missing_ok=True)
        return
    arn = config.get_settings().sites_kvs_arn
    if not arn:
        return
    from botocore.exceptions import ClientError

    kvs = _client("cloudfront-keyvaluestore")
    try:
        _aws(lambda: kvs.delete_key(KvsARN=arn, Key=host, IfMatch=_kvs_etag(kvs, arn)))
    except CdnUnavailable as exc:
        cause = exc.__cause__
        if (
            isinstance(cause, ClientError)
            and cause.response.get("Error", {}).get("Code") == "ResourceNotFoundException"
        ):
            return  # already gone
        raise


def route_of(host: str) -> str | None:
    """The prefix `host` serves on the local router; None when it serves nothing.
    (In AWS the CDN reads its own store; the app never serves page views there.)"""
    try:
        path = _record("routes", host)
    except ValueError:
        return None
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


# ---- aliases (custom domains) ----------------------------------------------------------------


def add_alias(domain: str) -> None:
    """Let the distribution answer for `domain` (a verified custom domain)."""
    domain = check_host(domain)
    if backend() == "local":
        _write(_record("aliases", domain), "1")
        return
    _change_aliases(lambda aliases: aliases | {domain})


def remove_alias(domain: str) -> None:
    domain = check_host(domain)
    if backend() == "local":
        _record("aliases", domain).unlink(missing_ok=True)
        return
    _change_aliases(lambda aliases: aliases - {domain})


def aliases() -> set[str]:
    if backend() == "local":
        folder = local_dir() / "aliases"
        return {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    cf = _client("cloudfront")
    current = _aws(lambda: cf.get_distribution_config(Id=_distribution()))
    return set(current["DistributionConfig"].get("Aliases", {}).get("Items", []) or [])


def _distribution() -> str:
    distribution = config.get_settings().sites_distribution_id
    if not distribution:
        raise CdnUnavailable("SITES_DISTRIBUTION_ID is not configured.")
    return distribution


def _change_aliases(change: Any) -> None:
    cf = _client("cloudfront")
    distribution = _distribution()
    current = _aws(lambda: cf.get_distribution_config(Id=distribution))
    cfg = current["DistributionConfig"]
    before = set(cfg.get("Aliases", {}).get("Items", []) or [])
    after = change(before)
    if after == before:
        return
    cfg["Aliases"] = {"Quantity": len(after), "Items": sorted(after)}
    _aws(lambda: cf.update_distribution(Id=distribution, IfMatch=current["ETag"], DistributionConfig=cfg))


# ---- invalidations ---------------------------------------------------------------------------


def default_distribution() -> str:
    return config.get_settings().sites_distribution_id or "local"


def invalidate(paths: list[str], distribution: str | None = None) -> str | None:
    """Purge `paths` (each starting with '/', '*' allowed at the end) in one request;
    the invalidation id (None locally, where nothing is cached)."""
    unique = sorted({p for p in paths if isinstance(p, str) and p.startswith("/")})
    if not unique:
        return None
    if backend() == "local":
        observability.logger().info("cdn invalidation (local: nothing cached)", extra={"paths": unique})
        log = local_dir() / "invalidations.jsonl"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as f:
            f.write(json.dumps({"at": time.time(), "distribution": distribution, "paths": unique}) + "\n")
        return None
    distribution = distribution or _distribution()
    cf = _client("cloudfront")
    batch = {"Paths": {"Quantity": len(unique), "Items": unique}, "CallerReference": uuid.uuid4().hex}
    result = _aws(lambda: cf.create_invalidation(DistributionId=distribution, InvalidationBatch=batch))
    observability.count("CdnInvalidation")
    return str(result["Invalidation"]["Id"])


def local_invalidations() -> list[dict[str, Any]]:
    """What the local backend was asked to purge (for tests and /dev pages)."""
    log = local_dir() / "invalidations.jsonl"
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def reset_clients() -> None:
    """Forget boto3 clients (tests switch moto on and off)."""
    with _lock:
        _clients.clear()
