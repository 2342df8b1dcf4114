"""A webhook receiver: verifies Standard Webhooks signatures, records what arrived, and fails when told to."""

from roster_dev.emulators.webhooks.server import Failure, Received, WebhookReceiver

__all__ = ["Failure", "Received", "WebhookReceiver"]
