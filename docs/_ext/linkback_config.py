"""``.. linkback-config::`` and ``.. linkback-signals::``: reference pages read from the code.

Every ``LINKBACK_*`` key, its default and what a valid value looks like come
from ``flask_linkback.config.DEFAULTS`` itself; the description is the ``#:``
comment above the key in that mapping, and a plain ``#`` comment line inside
it starts a group. So the reference cannot drift from the defaults: a key
without a description is a build warning (an error under ``-W``).
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


@dataclass
class Entry:
    key: str
    default: Any
    expected: str
    description: list[str]
    line: int


@dataclass
class Group:
    title: str
    entries: list[Entry] = field(default_factory=list)


def read_defaults() -> tuple[str, list[Group]]:
    """The groups of config entries, in source order, with their comments."""
    from flask_linkback import config

    source = inspect.getsource(config)
    path = inspect.getsourcefile(config) or "flask_linkback/config.py"
    lines = source.splitlines()
    mapping = next(
        node.value for node in ast.parse(source).body
        if isinstance(node, ast.AnnAssign | ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "DEFAULTS"
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))
    )
    assert isinstance(mapping, ast.Dict)
    groups = [Group("")]
    previous_end = mapping.lineno  # 1-based line of "DEFAULTS = {"
    for key_node, value_node in zip(mapping.keys, mapping.values, strict=True):
        assert isinstance(key_node, ast.Constant) and isinstance(key_node.value, str)
        key: str = key_node.value
        description: list[str] = []
        for text in (line.strip() for line in lines[previous_end:key_node.lineno - 1]):
            if text.startswith("#:"):
                description.append(text[2:].strip())
            elif text.startswith("#"):
                title = text.lstrip("#").strip()
                if groups[-1].entries:
                    groups.append(Group(title))
                else:
                    groups[-1].title = " ".join(filter(None, [groups[-1].title, title]))
                description = []
        default, _check, expected = config.DEFAULTS[key]
        groups[-1].entries.append(Entry(key, default, expected, description, key_node.lineno))
        previous_end = value_node.end_lineno or value_node.lineno
    return path, [group for group in groups if group.entries]


def plain(text: str) -> str:
    """Text for a ``:type:`` field, where a bare URL would become a link Sphinx cannot write."""
    return text.replace("://", "\\://")


def literal(value: Any) -> str:
    """A Python literal as the config file would spell it."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(value)


class LinkbackConfigDirective(SphinxDirective):
    """Render every key as a ``confval`` (so ``:confval:`KEY``` links to it)."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        path, groups = read_defaults()
        self.env.note_dependency(path)
        rst = StringList()
        for group in groups:
            if group.title:
                rst.append(f".. rubric:: {group.title}", path)
                rst.append("", path)
            for entry in group.entries:
                if not entry.description:
                    logger.warning(
                        "%s has no description: write a '#:' comment above it in DEFAULTS",
                        entry.key, location=f"{path}:{entry.line}")
                rst.append(f".. confval:: {entry.key}", path, entry.line)
                rst.append(f"   :type: {plain(entry.expected)}", path, entry.line)
                rst.append(f"   :default: ``{literal(entry.default)}``", path, entry.line)
                rst.append("", path)
                for text in entry.description or ["(not described yet)"]:
                    rst.append(f"   {text}", path, entry.line)
                rst.append("", path)
        container = nodes.container()
        self.state.nested_parse(rst, self.content_offset, container)
        return list(container.children)


class LinkbackSignalsDirective(SphinxDirective):
    """Every blinker signal in ``flask_linkback.signals``, documented from its ``#:`` comment.

    Listed from the module itself, so a new signal appears without editing the docs;
    ``:no-value:`` keeps each signal's repr (a memory address) out of the page.
    """

    has_content = False

    def run(self) -> list[nodes.Node]:
        from blinker import NamedSignal

        from flask_linkback import signals

        path = inspect.getsourcefile(signals) or "flask_linkback/signals.py"
        self.env.note_dependency(path)
        rst = StringList()
        for name, value in vars(signals).items():
            if isinstance(value, NamedSignal) and not name.startswith("_"):
                rst.append(f".. autodata:: flask_linkback.signals.{name}", path)
                rst.append("   :no-value:", path)
                rst.append("", path)
        container = nodes.container()
        self.state.nested_parse(rst, self.content_offset, container)
        return list(container.children)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("linkback-config", LinkbackConfigDirective)
    app.add_directive("linkback-signals", LinkbackSignalsDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
