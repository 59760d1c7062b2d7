"""A clear answer when the extension's tables have not been created yet.

A new user's first ``flask linkback list`` or first ping, before
``db.create_all()`` or the migration, used to end in a database traceback.
The endpoints and admin pages now answer 503 with the fix, and the CLI exits
with it. The check runs only after a query failed, and once the tables are
found a process never looks again.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app

from .owner_models import define_owner_models
from .state import current_state

logger = logging.getLogger("flask_linkback")

MISSING_TABLES = ("the linkback tables don't exist yet: run db.create_all() or your migrations "
                  "(flask db upgrade)")
#: The errors a query on a missing table raises (SQLite: Operational, PostgreSQL: Programming).
TABLE_ERRORS = (sa.exc.OperationalError, sa.exc.ProgrammingError)


def table_names(state: Any) -> list[str]:
    """Every table the extension reads or writes, from its models."""
    models = [model for model in vars(state.models).values() if model is not None]
    models += vars(define_owner_models(state.db)).values()
    return sorted({model.__tablename__ for model in models})


def missing_tables(state: Any | None = None) -> list[str]:
    """The extension's tables the database lacks (an empty list once created)."""
    state = state or current_state()
    if getattr(state, "tables_ready", False):
        return []
    try:
        state.db.session.rollback()
        inspector = sa.inspect(state.db.engine)
        missing = [name for name in table_names(state) if not inspector.has_table(name)]
    except sa.exc.SQLAlchemyError:  # the database itself is unreachable: not our answer to give
        return []
    if not missing:
        state.tables_ready = True
    return missing


def missing_tables_response(error: BaseException) -> Response | None:
    """For a failed query: 503 with the fix when our tables are missing, else None.

    Checked only after a query failed, so a working site pays nothing for it.
    """
    if not isinstance(error, TABLE_ERRORS):
        return None
    missing = missing_tables()
    if not missing:
        return None
    state = current_app.extensions["linkback"]
    if not getattr(state, "tables_warned", False):
        state.tables_warned = True
        logger.error("flask-linkback: %s (missing: %s)", MISSING_TABLES, ", ".join(missing))
    return Response(f"Service unavailable: {MISSING_TABLES}.\n", 503, {"Retry-After": "60"},
                    mimetype="text/plain")


def handle_table_error(error: Exception) -> Response:
    """Blueprint error handler for database errors: the 503 above, or the error as before."""
    answer = missing_tables_response(error)
    if answer is None:
        raise error
    return answer


def register(bp: Any) -> None:
    """Answer 503 with the fix on ``bp``'s pages while the tables are missing."""
    for error in TABLE_ERRORS:
        bp.register_error_handler(error, handle_table_error)
