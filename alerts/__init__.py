"""Alerts: the payload, the outbox and its dispatcher, one module per channel."""
