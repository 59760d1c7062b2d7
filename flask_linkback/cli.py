"""``flask linkback ...``: look at and moderate linkbacks from the shell."""

from __future__ import annotations

from collections import Counter
from typing import Any

import click
from flask.cli import AppGroup, ScriptInfo

from .models import Status
from .state import current_state

class _LinkbackGroup(AppGroup):
    """``flask linkback``: a command run before the tables exist says so, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from .tables import MISSING_TABLES, TABLE_ERRORS, missing_tables

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
        state.extension.set_status(row, status, reason=f"marked {status.value} from the command line")
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


# Outgoing pings ------------------------------------------------------------------


@linkback_cli.command("send")
def send_command() -> None:
    """Send every due outgoing ping once, then exit."""
    from .environment import sending_off_reason
    from .outbound.worker import drain

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


@linkback_cli.command("status")
def status_command() -> None:
    """Count outgoing pings per state."""
    import sqlalchemy as sa

    from .outbound.model import PingStatus

    state = current_state()
    Ping = state.models.OutgoingPing
    rows = dict(state.db.session.execute(
        sa.select(Ping.status, sa.func.count()).group_by(Ping.status)).all())
    for status in PingStatus:
        click.echo(f"{status.value}\t{rows.get(status.value, 0)}")


@linkback_cli.command("worker")
def worker_command() -> None:
    """Run the outbox scheduler in the foreground (for a separate worker process)."""
    import signal
    import threading

    from flask import current_app

    from .outbound import scheduler

    app = current_app._get_current_object()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    scheduler.start(app)
    click.echo(f"Outbox worker running, polling every {app.config['LINKBACK_OUTBOX_POLL_SECONDS']} s;"
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
    from datetime import timedelta

    from .models import utcnow

    state = current_state()
    Record = state.models.WebmentionRequest
    cutoff = utcnow() - timedelta(days=days)
    deleted = Record.query.filter(Record.created_at < cutoff).delete(synchronize_session=False)
    state.db.session.commit()
    click.echo(f"deleted {deleted} webmention status record{'' if deleted == 1 else 's'}"
               f" older than {days} days")
