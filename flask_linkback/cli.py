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
