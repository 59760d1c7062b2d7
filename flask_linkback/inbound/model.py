"""The inbound queue's table names, defined with the other tables in :mod:`flask_linkback.models`.

Kept so ``flask_linkback.inbound.model`` still names them; the models module
defines every table without importing the packages that use them.
"""

from __future__ import annotations

from ..models import WAITING, JobStatus, define_inbound_job

__all__ = ["WAITING", "JobStatus", "define_inbound_job"]
