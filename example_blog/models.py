from __future__ import annotations

from flask_linkback.models import utcnow

from .extensions import db


class Post(db.Model):
    __tablename__ = "blog_post"

    id = db.Column(db.Integer, primary_key=True)
    slug = db.Column(db.String(200), unique=True, nullable=False)
    title = db.Column(db.String(300), nullable=False)
    body = db.Column(db.Text, nullable=False, default="")
    published_at = db.Column(db.DateTime)
    pings_open = db.Column(db.Boolean, nullable=False, default=True)
    comments_open = db.Column(db.Boolean, nullable=False, default=True)
    trackback_to = db.Column(db.Text, nullable=False, default="")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    #: Deleted posts are kept, so their URL answers 410 Gone and webmentions can be taken back.
    deleted_at = db.Column(db.DateTime)
    comments = db.relationship("Comment", backref="post", order_by="Comment.created_at",
                               cascade="all, delete-orphan")

    @property
    def is_published(self) -> bool:
        return (self.published_at is not None and self.published_at <= utcnow()
                and self.deleted_at is None)

    @property
    def excerpt(self) -> str:
        from flask_linkback.html import Document

        text = Document(self.body or "", "http://localhost/").text
        return text[:250]


class Comment(db.Model):
    __tablename__ = "blog_comment"

    id = db.Column(db.Integer, primary_key=True)
    post_id = db.Column(db.Integer, db.ForeignKey("blog_post.id"), nullable=False)
    author = db.Column(db.String(100), nullable=False)
    body = db.Column(db.Text, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
