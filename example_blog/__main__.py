"""``python -m example_blog [--host H] [--port P]``: create the database, seed, and serve.

Each port gets its own SQLite file (``instance/blog-<port>.sqlite3``) unless
BLOG_SQLALCHEMY_DATABASE_URI is set, so two instances on two ports are two
blogs that can ping each other.
"""

from __future__ import annotations

import argparse

from . import create_app
from .views import seed_posts


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m example_blog")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    app = create_app({"BLOG_DATABASE_FILE": f"blog-{args.port}.sqlite3"})
    with app.app_context():
        print(seed_posts())
    print(f"Blog at http://{args.host}:{args.port}/  (admin: /admin/, user and password from config)")
    app.run(host=args.host, port=args.port, threaded=True, debug=False)


if __name__ == "__main__":
    main()
