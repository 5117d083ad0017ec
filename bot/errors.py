"""Domain errors: raised by services, carrying the message the person reads (Bahasa Indonesia)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal the person should read; `template` is rendered with `params` into the reply."""

    def __init__(self, template: str, **params: Any) -> None:
        super().__init__(template)
        self.template = template
        self.params = params


class NotAllowed(DomainError):
    """The sender's roles do not allow this."""
