"""The service: one update in, one transaction out (session, outbox, reminders), over any store."""

from neuroseq_core.service.core import Service

__all__ = ["Service"]
