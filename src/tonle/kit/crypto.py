"""Secrets at rest: slow hashes for what is only ever checked, digests for lookup keys, constant-time compare."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_secret(secret: str) -> str:
    """scrypt with a random salt; the stored string names its parameters so they can be raised later."""
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(dk).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, dk = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(dk)
        got = hashlib.scrypt(
            secret.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# A stored hash of a random secret, for spending the same time when the client id is unknown.
DUMMY_HASH = hash_secret(secrets.token_hex(16))


BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def short_code(length: int = 8) -> str:
    """A random base-62 code (``nn5RscTz``): 8 characters hold 47 bits. The caller checks it is free."""
    return "".join(secrets.choice(BASE62) for _ in range(length))


def digest(value: str) -> str:
    """SHA-256 hex of a high-entropy token: enough to look it up by, useless to whoever reads the database."""
    return hashlib.sha256(value.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def masked(number: str) -> str:
    """An account or card number as it may be shown: every digit but the last four starred."""
    return "*" * max(len(number) - 4, 0) + number[-4:]
