"""Receiving linkbacks: intake per protocol, the inbound queue, verification, moderation.

The blueprint with the protocol endpoints is in :mod:`.blueprint`. This file
imports nothing, so the lower modules of the package (``refusal``, ``verify``,
``rules``) can be used without loading the endpoints.
"""
