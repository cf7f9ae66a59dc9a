"""Webhooks: the outbox, the delivery worker, signatures. ``tonle.webhooks.verify`` checks a delivery."""

from tonle.webhooks.signing import WebhookVerificationError, verify

__all__ = ["WebhookVerificationError", "verify"]
