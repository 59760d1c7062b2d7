"""``python -m example_blog [--host H] [--port P]``: create the database, seed, and serve.

Each port gets its own SQLite file (``instance/blog-<port>.sqlite3``) unless
BLOG_SQLALCHEMY_DATABASE_URI is set, so two instances on two ports are two
blogs that can ping each other. On a loopback host the blog may fetch
loopback URLs (to verify pings from the other local blog); on any other host
the extension's address policy stays as configured.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os

from . import create_app
from .extensions import linkback
from .views import seed_posts


def main() -> None:
    # Requests, and what the outbox sends ("outbox: 2 sent"), on the console.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(prog="python -m example_blog")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    config: dict[str, object] = {"BLOG_DATABASE_FILE": f"blog-{args.port}.sqlite3"}
    if "BLOG_SERVER_NAME" not in os.environ and "BLOG_LINKBACK_SITE_URL" not in os.environ:
        # What this site is comes from configuration: the address it is served at.
        host = f"[{args.host}]" if ":" in args.host else args.host
        config["SERVER_NAME"] = f"{host}:{args.port}"
    if _is_loopback(args.host) and "BLOG_LINKBACK_ALLOW_PRIVATE_ADDRESSES" not in os.environ:
        # Served on loopback only, so nobody outside can make it fetch local
        # URLs; this lets two local blogs verify each other's pings.
        config["LINKBACK_ALLOW_PRIVATE_ADDRESSES"] = True
    app = create_app(config)
    with app.app_context():
        print(seed_posts())
    if app.config["LINKBACK_SCHEDULER"]:
        # The app is fully loaded: start sending and verifying now, not at the first request.
        linkback.start_scheduler(app)
    print(
        f"Blog at http://{args.host}:{args.port}/  (admin: /admin/, user and password from config)"
    )
    app.run(host=args.host, port=args.port, threaded=True, debug=False)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


if __name__ == "__main__":
    main()
