"""An app whose scheduler starts before its tables exist says so plainly, without a traceback."""

from __future__ import annotations

import logging

from example_blog import create_app
from flask_linkback.outbound import scheduler


def test_drain_before_the_tables_exist_logs_one_plain_warning(tmp_path, caplog):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'new.sqlite3'}",
                      "SERVER_NAME": "blog.example", "LINKBACK_SCHEDULER": False})

    with caplog.at_level(logging.INFO, logger="flask_linkback"):
        scheduler._drain(app)  # what the scheduler's job runs

    [record] = [r for r in caplog.records if r.name == "flask_linkback"]
    assert record.levelno == logging.WARNING
    assert "linkback_outgoing does not exist yet" in record.getMessage()
    assert record.exc_info is None
