"""Remote text in log lines: one event is one line, whatever a sender puts in a URL."""

from __future__ import annotations

import re

#: Control characters (C0, DEL, C1), Unicode line and paragraph separators, and the backslash
#: that starts an escape, so an escaped "\n" can't be told apart from a real one.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\\\\]")


def loggable(value: object) -> str:
    """``value`` as text for a log line, its control characters escaped as Python does (``\\n``).

    Wrap every piece of remote text (URLs, messages, fault strings, method
    names) that goes into a log call: a newline in a refused source URL would
    otherwise start a line that looks like the logger's own.
    """
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(lambda match: repr(match.group())[1:-1], text)
