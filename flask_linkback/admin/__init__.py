"""The admin pages: the Discussion settings form and the moderation queue."""

from __future__ import annotations

from .views import make_admin_blueprint

__all__ = ["make_admin_blueprint"]
