"""``tonle webhooks listen``: a small receiver for a developer wiring up the sandbox (prints, verifies, answers
Bill24's acknowledgement)."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tonle.kit.signing import WebhookVerificationError, verify

ACK = b'{"status":"Success","message":"SUCCESS"}'


def make_handler(secret: str | None, *, fail: bool, echo: Callable[[str], None]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), 1_048_576)
            body = self.rfile.read(length)
            refused = ""
            if secret:
                try:
                    verify(body, dict(self.headers), secret)
                    verdict = "signature OK"
                except WebhookVerificationError as exc:
                    verdict = f"signature INVALID ({exc})"
                    refused = str(exc)
            else:
                verdict = "signature not checked (no --secret)"
            echo(f"POST {self.path}  webhook-id={self.headers.get('webhook-id')}  {verdict}")
            try:
                echo(json.dumps(json.loads(body), ensure_ascii=False, indent=2))
            except ValueError:
                echo(body.decode("utf-8", errors="replace"))
            if refused:
                # A forged or misconfigured delivery must not be logged as delivered by the gateway.
                status, answer = 400, json.dumps({"status": "Error", "message": f"invalid signature: {refused}"})
            elif fail:
                status, answer = 500, '{"status":"Error","message":"listener set to fail"}'
            else:
                status, answer = 200, ACK.decode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer.encode())

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # a worker sends many deliveries at once; the default backlog of 5 stalls them


def serve_forever(port: int, secret: str | None, *, fail: bool, echo: Callable[[str], None]) -> None:
    server = _Server(("127.0.0.1", port), make_handler(secret, fail=fail, echo=echo))
    echo(f"listening on http://127.0.0.1:{port}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
