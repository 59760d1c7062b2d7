"""How the moderation queue's page time grows with the queue: python bench/moderation_queue.py

Renders the pending tab of the example blog (in-process, SQLite in a temporary
directory) with 100 rows and with 10,000 rows, the first page and a page deep
in the keyset, and prints each as a ratio of the 100-row first page measured
in the same run. A LIMIT/OFFSET query for the same deep page is timed as a
baseline for what keyset paging saves. Figures are medians of several runs.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from example_blog import create_app
from example_blog.extensions import db
from flask_linkback.models import utcnow

REPEAT = 15


def make_app(directory: str, rows: int):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{directory}/bench-{rows}.sqlite3",
                      "SECRET_KEY": "bench", "SERVER_NAME": "blog.test"})
    with app.app_context():
        db.create_all()
        model = app.extensions["linkback"].models.IncomingLinkback
        start = utcnow() - timedelta(days=30)
        db.session.execute(sa.insert(model), [
            {"kind": "pingback", "source_url": f"http://s{n % 97}.example/{n}",
             "source_key": f"http://s{n % 97}.example/{n}", "source_host": f"s{n % 97}.example",
             "target_url": "http://blog.test/posts/p", "post_id": "1", "title": f"Row {n}",
             "excerpt": "[…] some text around the link […]", "status": "pending", "reason": "held",
             "created_at": start + timedelta(seconds=n), "updated_at": start}
            for n in range(rows)])
        db.session.commit()
    return app


def median_ms(fn) -> float:
    fn()  # warm up
    times = []
    for _ in range(REPEAT):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


def page_timer(app, query: str = ""):
    client = app.test_client()
    with client.session_transaction() as session:
        session["admin"] = True

    def get() -> None:
        response = client.get(f"/linkback-admin/queue/pending{query}")
        assert response.status_code == 200

    return get


def deep_cursor(app, skip: int) -> str:
    with app.app_context():
        model = app.extensions["linkback"].models.IncomingLinkback
        row = db.session.scalars(sa.select(model).order_by(model.created_at.desc(), model.id.desc())
                                 .offset(skip).limit(1)).one()
        return f"?before={row.created_at.isoformat()}~{row.id}"


def offset_timer(app, skip: int):
    def run() -> None:
        with app.app_context():
            model = app.extensions["linkback"].models.IncomingLinkback
            list(db.session.scalars(sa.select(model).where(model.status == "pending")
                                    .order_by(model.created_at.desc(), model.id.desc())
                                    .offset(skip).limit(50)))
    return run


def keyset_timer(app, skip: int):
    cursor = deep_cursor(app, skip)[len("?before="):]
    stamp, _, ident = cursor.rpartition("~")
    from datetime import datetime

    created, ident_n = datetime.fromisoformat(stamp), int(ident)

    def run() -> None:
        with app.app_context():
            model = app.extensions["linkback"].models.IncomingLinkback
            list(db.session.scalars(
                sa.select(model).where(model.status == "pending")
                .where(sa.tuple_(model.created_at, model.id) < sa.tuple_(created, ident_n))
                .order_by(model.created_at.desc(), model.id.desc()).limit(50)))
    return run


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        small, big = make_app(directory, 100), make_app(directory, 10_000)
        baseline = median_ms(page_timer(small))
        figures = {
            "first page, 10,000 rows": median_ms(page_timer(big)),
            "page at row 9,000, 10,000 rows": median_ms(page_timer(big, deep_cursor(big, 9_000))),
        }
        print(f"baseline: first page of the pending tab with 100 rows = 1.00 ({baseline:.1f} ms)")
        for name, ms in figures.items():
            print(f"{name}: {ms / baseline:.2f} x baseline")
        offset_ms = median_ms(offset_timer(big, 9_000))
        keyset_ms = median_ms(keyset_timer(big, 9_000))
        print(f"rows query at row 9,000: keyset = {keyset_ms / offset_ms:.2f} x LIMIT/OFFSET")


if __name__ == "__main__":
    main()
