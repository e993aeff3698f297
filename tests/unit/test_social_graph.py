"""The Graph client's reading of Meta's errors and usage headers, and sealed tokens."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.core import config
from chalicelib.social import graph, sealing


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, {"code": 190, "error_subcode": 463, "message": "Session has expired"}, graph.TokenExpired),
        (403, {"code": 10, "message": "no permission"}, graph.PermissionMissing),
        (400, {"code": 200, "message": "Permissions error"}, graph.PermissionMissing),
        (400, {"code": 4, "message": "Application request limit reached"}, graph.RateLimited),
        (400, {"code": 17, "message": "User request limit reached"}, graph.RateLimited),
        (400, {"code": 32, "message": "Page request limit"}, graph.RateLimited),
        (400, {"code": 613, "message": "Calls exceeded"}, graph.RateLimited),
        (500, {"code": 2, "message": "Service temporarily unavailable", "is_transient": True}, graph.Transient),
        (400, {"code": 1, "message": "An unknown error occurred"}, graph.Transient),
        (503, None, graph.Transient),
        (400, {"code": 100, "message": "Invalid parameter"}, graph.Rejected),
        (400, {"code": 9004, "message": "Only photo or video can be accepted"}, graph.Rejected),
    ],
)
def test_meta_errors_map_to_ours(status, error, kind) -> None:
    body = {"error": {**error, "type": "OAuthException", "fbtrace_id": "x"}} if error else None
    err = graph.error_from(status, body, graph.Usage())
    assert type(err) is kind
    upstream = err.as_upstream()
    assert upstream.status == 502 and upstream.code.startswith("instagram_")


def test_oauth_endpoint_errors_have_their_own_shape() -> None:
    err = graph.error_from(
        400, {"error_type": "OAuthException", "code": 400, "error_message": "Invalid code"}, graph.Usage()
    )
    assert isinstance(err, graph.Rejected) and err.message == "Invalid code"


def test_usage_headers_give_the_highest_percentage_and_the_wait() -> None:
    headers = {
        "x-app-usage": json.dumps({"call_count": 12, "total_cputime": 40, "total_time": 7}),
        "x-business-use-case-usage": json.dumps(
            {
                "1784": [
                    {
                        "type": "instagram",
                        "call_count": 96,
                        "total_cputime": 3,
                        "total_time": 5,
                        "estimated_time_to_regain_access": 12,
                    }
                ]
            }
        ),
    }
    usage = graph.Usage.from_headers(headers)
    assert usage.highest_pct == 96 and usage.regain_access_min == 12
    limited = graph.error_from(400, {"error": {"code": 80002, "message": "rate"}}, usage)
    assert isinstance(limited, graph.RateLimited) and limited.retry_after_s == 720
    assert graph.Usage.from_headers({"x-app-usage": "not json"}) == graph.Usage()


def test_rate_limits_minutes_away_are_not_waited_for_inline() -> None:
    client = graph.Client(config.Settings(instagram_retry_base_s=0.01))
    assert client._backoff(graph.RateLimited("x", regain_min=5), 1) is None
    assert 0 < client._backoff(graph.RateLimited("x"), 1) <= graph.MAX_INLINE_WAIT_S
    assert 0 < client._backoff(graph.Transient("x"), 3) <= graph.MAX_BACKOFF_S


def test_the_urllib3_log_filter_scrubs_tokens() -> None:
    record = logging.LogRecord("urllib3.connectionpool", logging.DEBUG, "x", 1,
                               '%s "%s %s" %s', ("http://h:1", "GET", "/refresh_access_token?grant_type=ig_refresh_token&access_token=IGLTsecret", 200), None)  # fmt: skip
    assert graph.RedactSecrets().filter(record)
    assert "IGLTsecret" not in record.getMessage() and "access_token=[redacted]" in record.getMessage()


def test_sealed_tokens_round_trip_and_stay_bound_to_their_row() -> None:
    aad = sealing.associated_data(7, "17841400000")
    blob = sealing.seal("IGLT-plaintext-token", aad)
    assert b"IGLT-plaintext-token" not in blob
    assert sealing.unseal(blob, aad) == "IGLT-plaintext-token"
    assert sealing.seal("IGLT-plaintext-token", aad) != blob  # a fresh nonce each time
    with pytest.raises(sealing.UnsealError):
        sealing.unseal(blob, sealing.associated_data(8, "17841400000"))  # copied into another user's row
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(sealing.UnsealError):
        sealing.unseal(tampered, aad)
    with pytest.raises(sealing.UnsealError):
        sealing.unseal(b"\x02" + blob[1:], aad)
