"""Per-app state, kept in ``app.extensions["linkback"]`` (never on the extension object)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import current_app

from . import config as _config
from .host import HostCallbacks
from .models import Models, define_models

if TYPE_CHECKING:
    from .extension import Linkback
    from .inbound.queue import InboundRunner
    from .inbound.ratelimit import RateLimits
    from .inbound.rules import Rule
    from .inbound.verify import SourceCache


class LinkbackState:
    """What one app's requests need: the host's db, the models, the host callbacks, caches."""

    def __init__(self, extension: Linkback, db: Any, config: Mapping[str, Any] | None = None) -> None:
        from .inbound.queue import InboundRunner
        from .inbound.ratelimit import RateLimits
        from .inbound.rules import DEFAULT_RULES
        from .inbound.verify import SourceCache
        from .settings import define_settings_model

        self.extension = extension
        self.db = db
        self.models: Models = define_models(db)
        self.source_cache: SourceCache = SourceCache(
            (config if config is not None else {})
            .get("LINKBACK_SOURCE_CACHE_BYTES", _config.DEFAULTS["LINKBACK_SOURCE_CACHE_BYTES"][0]))
        self._default_rules: list[Rule] = list(DEFAULT_RULES)
        self.rate_limits: RateLimits = RateLimits(config if config is not None else {
            key: default for key, (default, _, _) in _config.DEFAULTS.items()})
        define_settings_model(db)
        #: This process's verification slots for the inbound queue (started on first use).
        self.inbound: InboundRunner = InboundRunner()
        #: (expires, DiscussionSettings): see settings.PROCESS_CACHE_SECONDS.
        self.settings_cache: tuple[float, Any] | None = None

    @property
    def rules(self) -> list[Rule]:
        """The host's rules first, then the built-in ones; read per ping, so late registrations count."""
        return [*self.extension.extra_rules, *self._default_rules]

    @property
    def callbacks(self) -> HostCallbacks:
        return self.extension.callbacks


def current_state() -> LinkbackState:
    try:
        return current_app.extensions["linkback"]
    except KeyError:
        raise RuntimeError(
            "flask-linkback is not initialised on this app: call linkback.init_app(app, db)"
        ) from None
