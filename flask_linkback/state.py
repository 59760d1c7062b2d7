"""Per-app state, kept in ``app.extensions["linkback"]`` (never on the extension object).

This module sits just above the base modules: it imports none of the packages
that use it. ``Linkback.init_app`` builds the per-app services (caches, rate
limits, the inbound runner) and hands them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flask import current_app

from .host import HostCallbacks
from .models import Models, define_models

if TYPE_CHECKING:  # annotations only: these modules import this one
    from .extension import Linkback
    from .inbound.queue import InboundRunner
    from .inbound.ratelimit import RateLimits
    from .inbound.rules import Rule
    from .inbound.verify import SourceCache
    from .outbound.outbox import OutboxRuntime


class LinkbackState:
    """What one app's requests need: the host's db, the models, the host callbacks, caches."""

    def __init__(self, extension: Linkback, db: Any, *, source_cache: SourceCache,
                 rate_limits: RateLimits, inbound: InboundRunner,
                 default_rules: Sequence[Rule], outbox: OutboxRuntime) -> None:
        self.extension = extension
        self.db = db
        self.models: Models = define_models(db)
        self.source_cache = source_cache
        self._default_rules: list[Rule] = list(default_rules)
        self.rate_limits = rate_limits
        #: This process's verification slots for the inbound queue (started on first use).
        self.inbound = inbound
        #: The outbox's clock, lock and scheduler in this process.
        self.outbox = outbox
        #: (expires, DiscussionSettings): see settings.PROCESS_CACHE_SECONDS.
        self.settings_cache: tuple[float, Any] | None = None
        #: target URL -> (expires, PostInfo): requests reuse a fresh resolution (receive.py).
        self.target_cache: dict[str, tuple[float, Any]] = {}
        #: The inbound queue's hot statements, built on first use (inbound/queue.py).
        self.queue_statements: Any = None
        #: The tables were found once (tables.py): never looked for again in this process.
        self.tables_ready = False
        #: The missing tables were logged once.
        self.tables_warned = False

    @property
    def rules(self) -> list[Rule]:
        """The host's rules first, then the built-in ones; read per ping, so late registrations
        count."""
        return [*self.extension.extra_rules, *self._default_rules]

    @property
    def callbacks(self) -> HostCallbacks:
        return self.extension.callbacks


def current_state() -> LinkbackState:
    try:
        state: LinkbackState = current_app.extensions["linkback"]
    except KeyError:
        raise RuntimeError(
            "flask-linkback is not initialised on this app: call linkback.init_app(app, db)"
        ) from None
    return state
