"""A bounded log of refused incoming pings: "I linked to you but nothing showed up".

Every refusal (the ``linkback_refused`` signal) is written to the
``linkback_refusal`` table with its source, target, kind and reason; once
the table holds LINKBACK_REFUSAL_LOG_SIZE rows the oldest are deleted, so a
flood of bad pings costs a fixed amount of space. The admin searches it by
source URL (``/linkback-admin/refusals``).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Flask, has_request_context, request

from .html import strip_control_chars
from .owner_models import define_owner_models
from .state import current_state

logger = logging.getLogger("flask_linkback")


def on_linkback_refused(app: Flask, kind: Any = "", source: Any = "", target: Any = "",
                        reason: Any = "", sender_ip: str | None = None, **_: Any) -> None:
    """``linkback_refused`` receiver: keep the refusal, drop the oldest past the cap."""
    cap = app.config.get("LINKBACK_REFUSAL_LOG_SIZE", 0)
    state = app.extensions.get("linkback")
    if not cap or state is None:
        return
    if sender_ip is None and has_request_context():
        sender_ip = request.remote_addr
    Refusal = define_owner_models(state.db).Refusal
    session = state.db.session
    try:
        row = Refusal(kind=_text(getattr(kind, "value", kind), 16),
                      source_url=_text(source, 2048), target_url=_text(target, 2048),
                      reason=_text(reason, 500), sender_ip=(sender_ip or None) and sender_ip[:45])
        session.add(row)
        session.flush()
        session.execute(sa.delete(Refusal).where(Refusal.id <= row.id - cap))
        session.commit()
    except Exception:  # the log is a convenience: never turn a refusal into an error
        session.rollback()
        logger.warning("refusal of %s not logged", source, exc_info=True)


def _text(value: Any, limit: int) -> str:
    return strip_control_chars(str(value or ""))[:limit]


def search(query: str = "", limit: int = 100) -> list[Any]:
    """The newest refusals whose source URL contains ``query`` (case-insensitive)."""
    state = current_state()
    Refusal = define_owner_models(state.db).Refusal
    select = sa.select(Refusal).order_by(Refusal.id.desc()).limit(limit)
    query = query.strip()
    if query:
        escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        select = select.where(sa.func.lower(Refusal.source_url).like(f"%{escaped}%", escape="\\"))
    return list(state.db.session.scalars(select))
