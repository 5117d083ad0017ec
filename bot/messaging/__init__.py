"""Delivery machinery every channel shares: the Channel protocol, journaled inbound processing, the outbox
dispatcher and target choice, the rate limiter."""
