from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp
from wtforms.widgets import TextInput


class LoginForm(FlaskForm):
    username = StringField("User", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])


class CommentForm(FlaskForm):
    author = StringField("Name", validators=[DataRequired(), Length(max=100)])
    body = TextAreaField("Comment", validators=[DataRequired(), Length(max=5000)])


class PostForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=300)])
    slug = StringField(
        "Slug",
        validators=[
            DataRequired(),
            Length(max=200),
            Regexp(r"^[a-z0-9-]+$", message="lowercase letters, digits and -"),
        ],
    )
    body = TextAreaField("Body (HTML)", validators=[DataRequired()])
    # A plain text field: the browser's date-time picker shows local time in the reader's own
    # format under a label that says UTC, which is how owners scheduled posts hours off.
    published_at = DateTimeLocalField(
        "Publish at, in UTC (YYYY-MM-DD HH:MM; empty = draft)",
        format=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"],
        validators=[Optional()],
        widget=TextInput(),
    )
    pings_open = BooleanField(
        "Take linkbacks on this post (pingbacks, trackbacks, webmentions)", default=True
    )
    comments_open = BooleanField("Allow comments", default=True)
    trackback_to = TextAreaField("Send trackbacks to (one URL per line)", validators=[Optional()])
    notify = BooleanField(
        "Notify the blogs this post links to (webmentions, pingbacks, trackbacks)", default=True
    )


class ActionForm(FlaskForm):
    """An empty form: a CSRF token for the moderation buttons."""
