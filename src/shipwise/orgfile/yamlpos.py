"""YAML read with the position of every value, so an error can name its line and column.

:func:`load` composes the document (``yaml.compose``: nodes with their marks, nothing
constructed by tags), turns it into plain data — mappings, lists, and scalars resolved by the
safe loader's rules (dates, numbers, booleans) — and records where each value starts, keyed by
its path (``("teams", 2, "timezone")``). A mapping that names a key twice is an error, not a
silent overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the file: where (1-based line and column; 0 when not known) and what."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        if self.line and self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


@dataclass
class Located:
    """The document as plain data and where each of its values starts."""

    data: Any
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def at(self, path: Path) -> tuple[int, int]:
        """(line, column) of the value at ``path``, or of its nearest enclosing value."""
        p = tuple(path)
        while p:
            if p in self.marks:
                return self.marks[p]
            p = p[:-1]
        return self.marks.get((), (0, 0))

    def problem(self, path: Path, message: str) -> Problem:
        line, column = self.at(path)
        return Problem(line, column, message)


class _Scalars(yaml.SafeLoader):
    """Only for :meth:`construct_object` on scalar nodes (dates, ints, bools by YAML 1.1 rules)."""


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load(text: str) -> Located:
    """Parse ``text``; a syntax error is a :class:`Problem` (with its line) and ``data`` None."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        why = " ".join(x for x in (exc.context, exc.problem) if x) or "not valid YAML"
        return Located(None, problems=[Problem(line, column, f"YAML syntax: {why}")])
    except yaml.YAMLError as exc:
        return Located(None, problems=[Problem(0, 0, f"YAML syntax: {exc}")])
    out = Located(None)
    if root is None:
        return out
    constructor = _Scalars("")
    out.data = _convert(root, (), out, constructor)
    return out


def _convert(node: yaml.Node, path: Path, out: Located, constructor: _Scalars) -> Any:
    out.marks[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node) if isinstance(
                key_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int | bool) or isinstance(key, bool):
                line, column = _mark(key_node)
                out.problems.append(Problem(line, column, "a key must be a plain name"))
                continue
            key = str(key)
            if key in result:
                line, column = _mark(key_node)
                out.problems.append(Problem(line, column, f"'{key}' is given twice"))
                continue
            out.marks[(*path, key, "__key__")] = _mark(key_node)
            result[key] = _convert(value_node, (*path, key), out, constructor)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), out, constructor) for i, item in enumerate(node.value)]
    try:
        return constructor.construct_object(node)
    except (yaml.YAMLError, ValueError) as exc:  # an unknown tag, a date like 2026-02-30
        line, column = _mark(node)
        why = getattr(exc, "problem", None) or str(exc)
        out.problems.append(Problem(line, column, f"cannot read this value: {why}"))
        return None
