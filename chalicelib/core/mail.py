"""Outgoing mail: SES in AWS, a folder of JSON messages on local stages.

The local folder is what `/dev/mail` lists, so a developer (and the browser test) can
follow verification and reset links without a mail server.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.core import config, observability

_lock = threading.Lock()
_ses: Any = None
_sesv2: Any = None


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    html: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    sent_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    # Bulk mail (campaigns) only: From/Reply-To and headers such as List-Unsubscribe.
    headers: dict[str, str] = field(default_factory=dict)


def backend() -> str:
    s = config.get_settings()
    return s.mail_backend or ("local" if s.is_local else "ses")


def mail_dir() -> Path:
    s = config.get_settings()
    return Path(s.mail_dir) if s.mail_dir else s.runtime_dir / "mail" / s.stage


def sender() -> str:
    return config.get_settings().mail_from


def send(to: str, subject: str, text: str, html: str) -> Message:
    message = Message(to=to, subject=subject, text=text, html=html)
    if backend() == "ses":
        _send_ses(message)
    else:
        _write_local(message)
    observability.count("MailSent")
    return message


def _write_local(message: Message) -> None:
    folder = mail_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    (folder / f"{stamp}-{message.id}.json").write_text(json.dumps(asdict(message)))


def send_bulk(
    to: str,
    subject: str,
    text: str,
    html: str,
    *,
    from_address: str,
    reply_to: str | None,
    headers: dict[str, str],
    configuration_set: str | None,
) -> str:
    """Send one marketing message; its id (SES's MessageId, which feedback notifications name).

    SES v2 SendEmail with raw MIME content, so headers such as List-Unsubscribe and
    List-Unsubscribe-Post (RFC 8058) go out as written, under a configuration set whose
    event destination publishes bounces, complaints and deliveries. Errors propagate
    (botocore's ClientError or a connection error): the caller decides retry or failure.
    """
    all_headers = {"From": from_address, **({"Reply-To": reply_to} if reply_to else {}), **headers}
    message = Message(to=to, subject=subject, text=text, html=html, headers=all_headers)
    if backend() != "ses":
        _write_local(message)
        observability.count("MailSent")
        return message.id
    raw = _mime(message)
    kwargs: dict[str, Any] = {
        "FromEmailAddress": from_address,
        "Destination": {"ToAddresses": [to]},
        "Content": {"Raw": {"Data": raw}},
    }
    if configuration_set:
        kwargs["ConfigurationSetName"] = configuration_set
    answer = sesv2().send_email(**kwargs)
    observability.count("MailSent")
    return str(answer["MessageId"])


def _mime(message: Message) -> bytes:
    """multipart/alternative (text, then HTML), base64 UTF-8 parts, CRLF line ends.

    Written out directly rather than through the email package's generator: this runs once
    per recipient, and the generator costs more than the SES call around it. Header lines may
    run to RFC 5322's 998, so a long List-Unsubscribe stays one plain header (never an RFC
    2047 encoded word); other non-ASCII values become encoded words; `From` arrives
    formatted (email.utils.formataddr). No header value can carry a line break.
    """
    import base64
    from email.header import Header

    boundary = "mwz-" + uuid.uuid4().hex  # base64's alphabet has no "-": it cannot occur in a part
    lines = []
    for name, raw in [*message.headers.items(), ("To", message.to), ("Subject", message.subject)]:
        value = " ".join(str(raw).split())
        if not value.isascii() and name != "From":
            value = Header(value, "utf-8").encode(linesep="\r\n")
        lines.append(f"{name}: {value}")
    lines += ["MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{boundary}"', ""]
    for subtype, body in (("plain", message.text), ("html", message.html)):
        encoded = base64.encodebytes(body.encode()).decode().rstrip("\n").replace("\n", "\r\n")
        lines += [f"--{boundary}", f'Content-Type: text/{subtype}; charset="utf-8"',
                  "Content-Transfer-Encoding: base64", "", encoded]  # fmt: skip
    lines += [f"--{boundary}--", ""]
    return "\r\n".join(lines).encode()


def sesv2() -> Any:
    """The SES v2 client, created on first use."""
    global _sesv2
    if _sesv2 is None:
        with _lock:
            if _sesv2 is None:
                import boto3

                _sesv2 = boto3.client("sesv2", region_name=config.get_settings().aws_region)
    return _sesv2


def _send_ses(message: Message) -> None:
    global _ses
    if _ses is None:
        with _lock:
            if _ses is None:
                import boto3

                _ses = boto3.client("ses", region_name=config.get_settings().aws_region)
    _ses.send_email(
        Source=sender(),
        Destination={"ToAddresses": [message.to]},
        Message={
            "Subject": {"Data": message.subject, "Charset": "UTF-8"},
            "Body": {
                "Text": {"Data": message.text, "Charset": "UTF-8"},
                "Html": {"Data": message.html, "Charset": "UTF-8"},
            },
        },
    )


def reset_clients() -> None:
    global _ses, _sesv2
    _ses = None
    _sesv2 = None


def outbox(limit: int = 50) -> list[Message]:
    """Newest first: the local folder's messages (empty with SES)."""
    folder = mail_dir()
    if backend() == "ses" or not folder.is_dir():
        return []
    files = sorted(folder.glob("*.json"), reverse=True)[:limit]
    return [Message(**json.loads(f.read_text())) for f in files]


def find(message_id: str) -> Message | None:
    return next((m for m in outbox(limit=500) if m.id == message_id), None)
