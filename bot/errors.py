"""Domain errors: raised by services, carrying the message the person reads (Bahasa Indonesia)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal the person should read; `template` is rendered with `params` into the reply.

    With `audit_action`, the dispatcher records the refusal in the audit log (forged buttons, arguments
    naming another OPD) after rolling back whatever the handler had done.
    """

    def __init__(self, template: str, *, audit_action: str | None = None, **params: Any) -> None:
        super().__init__(template)
        self.template = template
        self.audit_action = audit_action
        self.params = params
