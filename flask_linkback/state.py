"""Per-app state, kept in ``app.extensions["linkback"]`` (never on the extension object)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import current_app

from .host import HostCallbacks
from .models import Models, define_models

if TYPE_CHECKING:
    from .extension import Linkback
    from .inbound.background import BackgroundJobs
    from .inbound.rules import Rule
    from .inbound.verify import SourceCache


class LinkbackState:
    """What one app's requests need: the host's db, the models, the host callbacks, caches."""

    def __init__(self, extension: "Linkback", db: Any) -> None:
        from .inbound.background import BackgroundJobs
        from .inbound.rules import DEFAULT_RULES
        from .inbound.verify import SourceCache

        self.extension = extension
        self.db = db
        self.models: Models = define_models(db)
        self.source_cache: SourceCache = SourceCache()
        self.rules: list[Rule] = [*extension.extra_rules, *DEFAULT_RULES]
        self.webmention_queue: BackgroundJobs = BackgroundJobs()
        #: (host, target) -> (expires, post id, permalink): the endpoint's recent target checks.
        self.webmention_targets: dict[tuple[str, str], tuple[float, str, str]] = {}

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
