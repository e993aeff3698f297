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


@dataclass(frozen=True)
class Message:
    to: str
    subject: str
    text: str
    html: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    sent_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


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
        folder = mail_dir()
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        (folder / f"{stamp}-{message.id}.json").write_text(json.dumps(asdict(message)))
    observability.count("MailSent")
    return message


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
    global _ses
    _ses = None


def outbox(limit: int = 50) -> list[Message]:
    """Newest first: the local folder's messages (empty with SES)."""
    folder = mail_dir()
    if backend() == "ses" or not folder.is_dir():
        return []
    files = sorted(folder.glob("*.json"), reverse=True)[:limit]
    return [Message(**json.loads(f.read_text())) for f in files]


def find(message_id: str) -> Message | None:
    return next((m for m in outbox(limit=500) if m.id == message_id), None)
