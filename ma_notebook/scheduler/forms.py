"""Colab-style form lines (``name = value  #@param ...``) in the notebook copy a job runs.

The frontend's parser (``labextension/src/forms/parser.ts``) is the reference; this is the
small part a job needs: find a form field's value on its line and replace only that value.
"""

from __future__ import annotations

import re

from nbformat import NotebookNode

_ASSIGN = re.compile(r"^(\s*)([^\W\d]\w*)(\s*=\s*)")
_PARAM = re.compile(r"#\s*@param\b")


def comment_start(text: str) -> int:
    """Index of the ``#`` that starts a comment in a line of Python, or -1 (quotes respected)."""
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif text.startswith(quote, i):
                i += len(quote) - 1
                quote = ""
        elif c == "#":
            return i
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i += len(quote) - 1
        i += 1
    return -1


def set_form_line(line: str, values: dict[str, str]) -> str:
    """The line with its form value replaced when it is a form field named in ``values``."""
    assign = _ASSIGN.match(line)
    if not assign or assign.group(2) not in values:
        return line
    rest = line[assign.end() :]
    hash_at = comment_start(rest)
    if hash_at < 0 or not _PARAM.match(rest, hash_at):
        return line
    before = rest[:hash_at]
    gap = before[len(before.rstrip()) :] or " "
    return assign.group(0) + values[assign.group(2)] + gap + rest[hash_at:]


def set_form_values(nb: NotebookNode, values: dict[str, str]) -> set[str]:
    """Write Python literals into the form lines of every code cell; the names that were set."""
    found: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or "@param" not in cell.source:
            continue
        lines = cell.source.split("\n")
        for i, line in enumerate(lines):
            new = set_form_line(line, values)
            if new != line:
                lines[i] = new
                found.add(str(_ASSIGN.match(line).group(2)))  # type: ignore[union-attr]
        cell.source = "\n".join(lines)
    return found
