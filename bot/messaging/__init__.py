"""Delivery machinery every channel shares: journaled inbound processing, the outbox dispatcher and target
choice, the rate limiter."""
