"""Instagram access tokens sealed at rest with AES-256-GCM.

The key is derived from SECRET_KEY with HKDF-SHA256 (its own salt and info, so it is
never the key that signs links or cookies). Each token carries a fresh 96-bit nonce and
is bound to its row by the associated data (owner and Instagram account), so a
ciphertext copied into another row does not decrypt. The first byte is a version, which
leaves room for the documented next step: a KMS data key per stage in AWS.

`cryptography` is imported on first use: `import app` must stay light.
"""

from __future__ import annotations

import os
from functools import lru_cache

from chalicelib.core import config

VERSION = b"\x01"
_NONCE_BYTES = 12


class UnsealError(ValueError):
    """The ciphertext is corrupt, from another key, or from another row."""


@lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"mewayz/social/token-key", info=b"instagram-access-token:v1"
    ).derive(secret.encode())


def _aead() -> object:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(_key(config.get_settings().secret_key))


def associated_data(user_id: int, ig_user_id: str) -> bytes:
    return f"social-account|{user_id}|{ig_user_id}".encode()


def seal(token: str, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return VERSION + nonce + _aead().encrypt(nonce, token.encode(), aad)  # type: ignore[attr-defined]


def unseal(blob: bytes, aad: bytes) -> str:
    from cryptography.exceptions import InvalidTag

    data = bytes(blob)
    if len(data) < 1 + _NONCE_BYTES + 16 or data[:1] != VERSION:
        raise UnsealError("not a sealed token")
    nonce, ciphertext = data[1 : 1 + _NONCE_BYTES], data[1 + _NONCE_BYTES :]
    try:
        return _aead().decrypt(nonce, ciphertext, aad).decode()  # type: ignore[attr-defined]
    except InvalidTag:
        raise UnsealError("token does not decrypt with this key and row") from None
