"""The SDK endpoints' body encryption (sdk-and-bank-api.md §1.1):
Base64(IV ‖ AES-256-CBC-PKCS7(key, JSON)), key = the 32 raw bytes of HMAC-SHA256(secret, secret)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tonle.wire import wirejson


class DecryptError(ValueError):
    pass


def derive_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), secret.encode(), hashlib.sha256).digest()


def encrypt(secret: str, payload: Any) -> str:
    iv = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    data = padder.update(wirejson.dumps(payload).encode()) + padder.finalize()
    enc = Cipher(algorithms.AES(derive_key(secret)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + enc.update(data) + enc.finalize()).decode()


def decrypt(secret: str, blob: str) -> Any:
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptError("not base64") from exc
    if len(raw) < 32 or len(raw) % 16:
        raise DecryptError("wrong length")
    dec = Cipher(algorithms.AES(derive_key(secret)), modes.CBC(raw[:16])).decryptor()
    try:
        padded = dec.update(raw[16:]) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        plain = unpadder.update(padded) + unpadder.finalize()
        return wirejson.loads(plain)
    except (ValueError, wirejson.InvalidJSON) as exc:
        raise DecryptError("does not decrypt to JSON") from exc
