from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Mapped, mapped_column, relationship

from flask_linkback.html import Document
from flask_linkback.models import utcnow

from .extensions import db

# db.Model is made when the SQLAlchemy object is, so type checkers cannot see it as a class.


class Post(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "blog_post"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(db.String(200), unique=True)
    title: Mapped[str] = mapped_column(db.String(300))
    body: Mapped[str] = mapped_column(db.Text, default="")
    published_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    pings_open: Mapped[bool] = mapped_column(db.Boolean, default=True)
    comments_open: Mapped[bool] = mapped_column(db.Boolean, default=True)
    trackback_to: Mapped[str] = mapped_column(db.Text, default="")
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    #: Deleted posts are kept, so their URL answers 410 Gone and webmentions can be taken back.
    deleted_at: Mapped[datetime | None] = mapped_column(db.DateTime)
    comments: Mapped[list[Comment]] = relationship(
        back_populates="post", order_by="Comment.created_at", cascade="all, delete-orphan")

    @property
    def is_published(self) -> bool:
        return (self.published_at is not None and self.published_at <= utcnow()
                and self.deleted_at is None)

    @property
    def excerpt(self) -> str:
        text = Document(self.body or "", "http://localhost/").text
        return text[:250]


class Comment(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "blog_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(db.Integer, db.ForeignKey("blog_post.id"))
    author: Mapped[str] = mapped_column(db.String(100))
    body: Mapped[str] = mapped_column(db.Text)
    created_at: Mapped[datetime] = mapped_column(db.DateTime, default=utcnow)
    post: Mapped[Post] = relationship(back_populates="comments")
