"""Supervision: the nursery tree, restart policy, mailboxes and health."""

from marketmaestro.supervision.component import Component
from marketmaestro.supervision.health import ComponentHealth, HealthRegistry
from marketmaestro.supervision.mailbox import BadRequest, Envelope, Mailbox, RequestFailed, RequestTimeout
from marketmaestro.supervision.supervisor import EscalationError, RestartPolicy, supervise

__all__ = [
    "BadRequest",
    "Component",
    "ComponentHealth",
    "Envelope",
    "EscalationError",
    "HealthRegistry",
    "Mailbox",
    "RequestFailed",
    "RequestTimeout",
    "RestartPolicy",
    "supervise",
]
