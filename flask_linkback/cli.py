"""``flask linkback ...``: look at and moderate linkbacks from the shell."""

from __future__ import annotations

import signal
import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import click
import sqlalchemy as sa
from flask.cli import AppGroup, ScriptInfo

from .environment import sending_off_reason
from .inbound.model import JobStatus
from .models import Status, utcnow
from .outbound import scheduler
from .outbound.model import PingStatus
from .outbound.worker import drain
from .signals import current_app_object
from .state import current_state
from .tables import MISSING_TABLES, TABLE_ERRORS, missing_tables
from .urls import is_http_url
from .wordpress_import import WXRError, import_wordpress


class _LinkbackGroup(AppGroup):
    """``flask linkback``: a command run before the tables exist says so, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TABLE_ERRORS:
            app = ctx.ensure_object(ScriptInfo).load_app()
            with app.app_context():
                missing = missing_tables(app.extensions["linkback"])
            if missing:
                raise click.ClickException(f"{MISSING_TABLES} (missing: {', '.join(missing)})"
                                           ) from None
            raise


linkback_cli = _LinkbackGroup("linkback", help="Pingback, TrackBack and Webmention tools.")


@linkback_cli.command("list")
@click.option("--status", type=click.Choice([s.value for s in Status]), default=None,
              help="Only linkbacks with this status.")
def list_command(status: str | None) -> None:
    """List stored linkbacks, newest first."""
    Linkback = current_state().models.IncomingLinkback
    query = Linkback.query.order_by(Linkback.created_at.desc(), Linkback.id.desc())
    if status:
        query = query.filter_by(status=status)
    for row in query:
        click.echo(f"{row.id}\t{row.status}\t{row.kind}\t{row.source_url} -> {row.target_url}"
                   f"\t{row.reason}")


def _set(ids: tuple[int, ...], status: Status) -> None:
    state = current_state()
    Linkback = state.models.IncomingLinkback
    for linkback_id in ids:
        row = state.db.session.get(Linkback, linkback_id)
        if row is None:
            raise click.ClickException(f"no linkback with id {linkback_id}")
        state.extension.set_status(row, status,
                                   reason=f"marked {status.value} from the command line")
        click.echo(f"{row.id}\t{row.status}\t{row.source_url}")


@linkback_cli.command("approve")
@click.argument("ids", nargs=-1, type=int, required=True)
def approve_command(ids: tuple[int, ...]) -> None:
    """Approve linkbacks by id."""
    _set(ids, Status.APPROVED)


@linkback_cli.command("spam")
@click.argument("ids", nargs=-1, type=int, required=True)
def spam_command(ids: tuple[int, ...]) -> None:
    """Mark linkbacks as spam by id."""
    _set(ids, Status.SPAM)


def _http_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not is_http_url(value.replace("{slug}", "slug")):
        raise click.BadParameter("must be an absolute http(s) URL")
    if value is not None and param.name == "slug_url" and "{slug}" not in value:
        raise click.BadParameter("must contain {slug}, e.g. https://example.org/posts/{slug}")
    return value


@linkback_cli.command("import-wordpress")
@click.argument("export", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Read and match everything, write nothing.")
@click.option("--site-url", default=None, metavar="URL", callback=_http_url,
              help="This site's base URL; an exported link on another host is tried at the same "
                   "path under it. Default: from SERVER_NAME or LINKBACK_SITE_HOSTS.")
@click.option("--slug-url", default=None, metavar="TEMPLATE", callback=_http_url,
              help="A post's URL here with {slug} for its slug, e.g. "
                   "https://example.org/posts/{slug}: tried when the exported link matches "
                   "no post.")
def import_wordpress_command(export: str, dry_run: bool, site_url: str | None,
                             slug_url: str | None) -> None:
    """Import the pingbacks and trackbacks of a WordPress export (WXR) file.

    Comments are not imported. Running it again adds nothing.
    """
    try:
        summary = import_wordpress(export, dry_run=dry_run, site_url=site_url, slug_url=slug_url)
    except WXRError as error:
        raise click.ClickException(f"{export}: {error}") from None
    for line in summary.lines():
        click.echo(line)


# Outgoing pings ------------------------------------------------------------------


@linkback_cli.command("send")
def send_command() -> None:
    """Send every due outgoing ping once, then exit."""
    off = sending_off_reason()
    if off:
        click.echo(off)

    def progress(counts: Counter[str]) -> None:
        line = ", ".join(f"{counts[s]} {s}" for s in ("sent", "failed", "skipped", "retry"))
        click.echo(f"\r{sum(counts.values())} done: {line}", nl=False)

    counts = drain(progress=progress)
    if counts:
        click.echo()
    click.echo(f"Outbox drained: {sum(counts.values())} pings handled"
               + "".join(f", {n} {s}" for s, n in sorted(counts.items())) + ".")


#: A queued incoming ping older than this (and than ten polls) means nothing verifies the queue.
STALE_QUEUE_SECONDS = 60


@linkback_cli.command("status")
def status_command() -> None:
    """Count outgoing pings and queued incoming ones per state; warn when nothing verifies."""
    state = current_state()
    session = state.db.session
    Ping = state.models.OutgoingPing
    rows = dict(session.execute(
        sa.select(Ping.status, sa.func.count()).group_by(Ping.status)).all())
    for status in PingStatus:
        click.echo(f"{status.value}\t{rows.get(status.value, 0)}")
    Job = state.models.InboundJob
    jobs = dict(session.execute(sa.select(Job.status, sa.func.count()).group_by(Job.status)).all())
    for job_status in JobStatus:
        click.echo(f"inbound {job_status.value}\t{jobs.get(job_status.value, 0)}")
    oldest = session.scalar(sa.select(sa.func.min(Job.received_at))
                            .where(Job.status == JobStatus.QUEUED.value))
    if oldest is None:
        return
    waited = (utcnow() - oldest).total_seconds()
    poll = current_app_object().config["LINKBACK_INBOUND_POLL_SECONDS"]
    if waited > max(STALE_QUEUE_SECONDS, 10 * poll):
        # With the scheduler off, web processes verify only the verdicts their requests wait
        # for: without a worker, everything else waits forever.
        click.echo(f"warning: an incoming ping has waited {waited:.0f} s to be verified: is"
                   " `flask linkback worker` running (or the scheduler, LINKBACK_SCHEDULER)?",
                   err=True)


@linkback_cli.command("worker")
@click.option("--inbound-workers", type=click.IntRange(min=1), default=None,
              help="Threads verifying incoming pings [default: LINKBACK_INBOUND_WORKERS, or 4 "
                   "when that is 0 so that web processes only queue].")
def worker_command(inbound_workers: int | None) -> None:
    """Send outgoing pings and verify incoming ones, in the foreground (a worker process)."""

    app = current_app_object()
    app.config["LINKBACK_INBOUND_WORKERS"] = (
        inbound_workers or app.config["LINKBACK_INBOUND_WORKERS"] or 4)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler.start(app)
    outbox_every = app.config["LINKBACK_OUTBOX_POLL_SECONDS"]
    inbound_every = app.config["LINKBACK_INBOUND_POLL_SECONDS"]
    click.echo(f"Linkback worker running: outbox every {outbox_every} s,"
               f" inbound queue every {inbound_every} s;"
               " Ctrl+C stops it.")
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.stop(app)


@linkback_cli.command("prune-webmention-status")
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True,
              help="Keep the verdicts of webmentions received in the last DAYS days.")
def prune_webmention_status_command(days: int) -> None:
    """Delete old webmention status records (their status URLs then answer 404)."""

    state = current_state()
    Record = state.models.WebmentionRequest
    cutoff = utcnow() - timedelta(days=days)
    deleted = Record.query.filter(Record.created_at < cutoff).delete(synchronize_session=False)
    state.db.session.commit()
    click.echo(f"deleted {deleted} webmention status record{'' if deleted == 1 else 's'}"
               f" older than {days} days")


@linkback_cli.command("check-schema")
def check_schema_command() -> None:
    """Check that the database has every table and column the extension's models need.

    Run it after upgrading flask-linkback: a missing table or column means a
    migration is due. It reads the database only; nothing is changed.
    """
    db = current_state().db
    wanted = {name: table for name, table in db.metadata.tables.items()
              if name.startswith("linkback_")}
    inspector = sa.inspect(db.engine)
    present = set(inspector.get_table_names())
    missing: list[str] = []
    for name, table in sorted(wanted.items()):
        if name not in present:
            missing.append(f"table {name}")
            continue
        columns = {column["name"] for column in inspector.get_columns(name)}
        missing += [f"column {name}.{column.name}" for column in table.columns
                    if column.name not in columns]
    if missing:
        for item in missing:
            click.echo(f"missing {item}", err=True)
        raise click.ClickException(
            "the database is behind flask-linkback's models: with Flask-Migrate run "
            '`flask db migrate -m "flask-linkback upgrade"`, review the script, then '
            "`flask db upgrade` (or apply the equivalent SQL by hand)"
        )
    click.echo(f"ok: {len(wanted)} flask-linkback tables match the models")
