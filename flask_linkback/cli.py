"""``flask linkback ...``: look at and moderate linkbacks from the shell."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from .models import Status
from .state import current_state

linkback_cli = AppGroup("linkback", help="Pingback, TrackBack and Webmention tools.")


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
