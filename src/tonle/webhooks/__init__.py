"""Webhooks: the outbox, the delivery worker, signatures. ``tonle.webhooks.verify`` checks a delivery."""

from tonle.kit.signing import WebhookVerificationError, verify

__all__ = ["WebhookVerificationError", "verify"]
