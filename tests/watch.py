"""The suite watches what it is told: every secret it sees (merchant credentials it creates, bank tokens, webhook
secrets, access, refresh and payment tokens that answers carry), every log line of the whole session (the test
servers' and the `tonle` processes'), and every error body. At the end, no secret may appear in a log line or an
error body."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

SECRETS: set[str] = set()
ERROR_BODIES: list[str] = []
SECRET_KEYS = {"token", "refreshToken", "secret", "webhook_secret", "client_secret", "payment_token", "sdk_secret"}
SUCCESS = {"SUCCESS", "000", 200}


def remember(*values: str | None) -> None:
    for v in values:
        if v and len(v) >= 12:  # shorter strings would match by accident
            SECRETS.add(v)


def remember_credentials(creds: Any) -> None:
    remember(
        creds.merchant_token,
        creds.client_secret,
        creds.bill_hash_key,
        creds.referrer_key,
        creds.sdk_secret,
        creds.webhook_secret,
    )


def _walk(value: Any) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in SECRET_KEYS and isinstance(v, str):
                remember(v)
            else:
                _walk(v)
    elif isinstance(value, list):
        for v in value:
            _walk(v)


def on_response(response: Any) -> None:
    """httpx response hook of the test clients."""
    response.read()
    text = response.text
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    _walk(body)
    code = body.get("code") if isinstance(body, dict) else None
    if response.status_code >= 400 or (code is not None and code not in SUCCESS):
        ERROR_BODIES.append(text[:20_000])


class FileCapture(logging.Handler):
    def __init__(self, path: Path) -> None:
        super().__init__(logging.INFO)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file = path.open("w")
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if self.file.closed:
            return
        try:
            self.file.write(self.format(record) + "\n")  # includes exception tracebacks
        except Exception:  # a log handler must not raise
            self.handleError(record)

    def close(self) -> None:
        self.file.close()
        super().close()


def capture_logs(path: Path) -> FileCapture:
    handler = FileCapture(path)
    logging.getLogger().addHandler(handler)
    for name in ("tonle", "uvicorn", "sqlalchemy"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO if name == "tonle" else logging.WARNING)
    return handler


def leaks(log_files: list[Path]) -> list[str]:
    found = []
    for path in log_files:
        if not path.exists():
            continue
        text = path.read_text(errors="replace")
        found += [f"{path.name}: …{s[:6]}…" for s in SECRETS if s in text]
    bodies = "\n".join(ERROR_BODIES)
    found += [f"an error body: …{s[:6]}…" for s in SECRETS if s in bodies]
    return found
