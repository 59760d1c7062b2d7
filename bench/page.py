"""What 1,000 approved linkbacks cost a post page: python bench/page.py [runs]

Renders the example blog's post page (in-process, SQLite in a temporary
directory; also PostgreSQL when LINKBACK_BENCH_POSTGRESQL_URL is set, in a
schema of its own) for a post with no linkbacks and for posts with 1,000
approved ones: all pingbacks, and a mix of replies, likes, reposts and
pingbacks. Prints the SQL statements each page runs (counted with SQLAlchemy's
``before_cursor_execute``, the settings read afresh) and its render time as
a ratio of the empty post measured in the same run (medians, the pages timed
in turn so load on the machine hits them alike). Targets: at most 3 queries,
within 2x of the empty post. "All on one page" (LINKBACK_PER_PAGE=1000)
shows what rendering every linkback costs, as post pages did before paging.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from example_blog import create_app
from example_blog.extensions import db
from example_blog.models import Post
from flask_linkback.models import utcnow

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 31
LINKBACKS = 1_000
MIX = ("reply", "like", "repost", "mention")


def make_app(uri: str, engine_options: dict[str, Any], **config: Any) -> Any:
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": uri,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
            "SECRET_KEY": "bench",
            "SERVER_NAME": "blog.test",
            "LINKBACK_SCHEDULER": False,
            **config,
        }
    )
    return app


def seed(app: Any) -> None:
    """Three posts: "empty", "pingbacks" (1,000 pingbacks), "mixed" (250 of each type)."""
    with app.app_context():
        db.create_all()
        start = utcnow() - timedelta(days=30)
        for slug in ("empty", "pingbacks", "mixed"):
            db.session.add(
                Post(
                    slug=slug,
                    title=f"A post: {slug}",
                    body="<p>Some text.</p>" * 5,
                    published_at=start,
                )
            )
        db.session.commit()
        model = app.extensions["linkback"].models.IncomingLinkback
        for slug in ("pingbacks", "mixed"):
            post = Post.query.filter_by(slug=slug).one()
            rows = []
            for n in range(LINKBACKS):
                kind = MIX[n % 4] if slug == "mixed" else "mention"
                source = f"http://s{n % 97}.example/{slug}/{n}"
                rows.append(
                    {
                        "kind": "pingback" if kind == "mention" else "webmention",
                        "source_url": source,
                        "source_key": source,
                        "source_host": f"s{n % 97}.example",
                        "target_url": f"http://blog.test/posts/{slug}",
                        "post_id": str(post.id),
                        "title": f"Someone's post number {n}",
                        "blog_name": f"Blog {n % 97}",
                        "excerpt": "[…] some text around the link to this post, as a pingback "
                                   "carries […]",
                        "mention_type": kind,
                        "author_name": f"Author {n}",
                        "author_url": f"http://s{n % 97}.example/",
                        "author_photo": f"http://s{n % 97}.example/me.jpg"
                        if kind != "mention"
                        else None,
                        "content": "<p>A reply with <em>some</em> words.</p>"
                        if kind == "reply"
                        else None,
                        "status": "approved",
                        "reason": "",
                        "created_at": start + timedelta(minutes=n),
                        "updated_at": start,
                    }
                )
            db.session.execute(sa.insert(model), rows)
        db.session.commit()


def fetcher(app: Any, path: str) -> Callable[[], None]:
    client = app.test_client()

    def get() -> None:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)

    return get


def queries(app: Any, path: str) -> int:
    """Statements one request for ``path`` runs, with the settings read afresh (the worst case)."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    app.extensions["linkback"].settings_cache = None
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        fetcher(app, path)()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def medians_ms(cases: dict[str, Callable[[], None]]) -> dict[str, float]:
    """Each case's median time, the cases run in turn ``RUNS`` times after a warm-up."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        fn()
    for _ in range(RUNS):
        for name, fn in cases.items():
            began = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - began)
    return {name: statistics.median(values) * 1000 for name, values in times.items()}


def run(label: str, uri: str, engine_options: dict[str, Any]) -> None:
    app = make_app(uri, engine_options)
    seed(app)
    everything = make_app(uri, engine_options, LINKBACK_PER_PAGE=LINKBACKS)
    pages = {
        "empty post": (app, "/posts/empty"),
        "1,000 pingbacks, page 1": (app, "/posts/pingbacks"),
        "1,000 pingbacks, page 20": (app, "/posts/pingbacks?linkback-page=20"),
        "1,000 mixed, page 1": (app, "/posts/mixed"),
        "1,000 pingbacks, all on one page": (everything, "/posts/pingbacks"),
        "1,000 mixed, all on one page": (everything, "/posts/mixed"),
    }
    counts = {name: queries(a, path) for name, (a, path) in pages.items()}
    sizes = {name: len(a.test_client().get(path).data) for name, (a, path) in pages.items()}
    ms = medians_ms({name: fetcher(a, path) for name, (a, path) in pages.items()})
    baseline = ms["empty post"]
    print(f"{label}: median of {RUNS} runs; baseline: the empty post = 1.00 ({baseline:.1f} ms)")
    for name in pages:
        print(
            f"  {name}: {counts[name]} queries, {ms[name] / baseline:.2f} x baseline,"
            f" {sizes[name] / 1024:.0f} KB"
        )
    for a in (app, everything):
        with a.app_context():
            db.session.remove()
            db.engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        run("SQLite", f"sqlite:///{directory}/bench-page.sqlite3", {})
    url = os.environ.get("LINKBACK_BENCH_POSTGRESQL_URL")
    if url:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(url)
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            run("PostgreSQL", url, {"connect_args": {"options": f"-csearch_path={schema}"}})
        finally:
            with admin.begin() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
