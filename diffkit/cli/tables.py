"""Tables and lines that fit the terminal: one small helper every command prints through.

A table is laid out at the terminal's width (``COLUMNS`` when set, else the terminal's size, else
:data:`DEFAULT_WIDTH` for pipes and files):

1. all columns, when they fit (or always with ``wide=True``, the commands' ``--wide``);
2. else the optional columns go, least important first (a note says which, and that ``--wide``
   shows them);
3. else left-aligned text columns wrap onto several lines;
4. else the table turns vertical: one block of ``column: value`` lines per row.

Numbers are never cut: a number column keeps its width, so no digit is ever lost.

>>> cols = [Column("param"), Column("value", "r"), Column("note", optional=1)]
>>> print(render(cols, [("w", "-0.0443016767576", "a long remark")], width=44))
 param             value  note
 ──────────────────────────────────────
 w      -0.0443016767576  a long remark
>>> print(render(cols, [("w", "-0.0443016767576", "a long remark")], width=32))
 param             value
 ───────────────────────
 w      -0.0443016767576
(1 column left out to fit 32
    columns: note; --wide shows
    all)
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
import unicodedata
from dataclasses import dataclass
from typing import Sequence

#: Width used when output goes to a pipe or a file and ``COLUMNS`` is not set.
DEFAULT_WIDTH = 100
GAP = 2
RULE = "─"


def terminal_width() -> int:
    """``COLUMNS`` when set (as shells and test runners set it), else the terminal's width, else 100."""
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    return DEFAULT_WIDTH


def text_width(s: str) -> int:
    """Display width of ``s`` (combining marks take no column, wide East Asian characters two)."""
    n = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        n += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return n


def _pad(s: str, w: int, align: str) -> str:
    fill = " " * max(0, w - text_width(s))
    return fill + s if align == "r" else s + fill


@dataclass(frozen=True)
class Column:
    """A table column: ``align`` "l" (text, may wrap) or "r" (numbers, never cut); ``optional``:
    0 = always shown, k > 0 = may be left out to fit, higher k first."""

    name: str
    align: str = "l"
    optional: int = 0
    wrap: bool = True


def render(columns: Sequence[Column], rows: Sequence[Sequence[str]], *, width: int | None = None,
           wide: bool = False, indent: int = 1) -> str:
    """The table as text that fits ``width`` columns (see the module docstring)."""
    width = terminal_width() if width is None else width
    rows = [tuple("" if c is None else str(c) for c in r) for r in rows]
    keep = list(range(len(columns)))
    dropped: list[str] = []

    def natural(j: int) -> int:
        return max([text_width(columns[j].name)] + [max((text_width(x) for x in r[j].split("\n")), default=0)
                                                    for r in rows])

    def total(js, widths) -> int:
        return indent + sum(widths[j] for j in js) + GAP * (len(js) - 1)

    widths = {j: natural(j) for j in keep}
    if not wide:
        for j in sorted((j for j in keep if columns[j].optional), key=lambda j: (-columns[j].optional, -j)):
            if total(keep, widths) <= width:
                break
            keep.remove(j)
            dropped.append(columns[j].name)
        if total(keep, widths) > width:
            # wrap text columns, widest first, down to a floor of 12 characters
            for j in sorted((j for j in keep if columns[j].align == "l" and columns[j].wrap),
                            key=lambda j: -widths[j]):
                excess = total(keep, widths) - width
                if excess <= 0:
                    break
                widths[j] = max(12, min(widths[j], widths[j] - excess), text_width(columns[j].name))
        if total(keep, widths) > width:
            return _vertical(columns, rows, width, indent) + _dropped_note([], width)
    lines = [_line([columns[j].name for j in keep], [widths[j] for j in keep],
                   [columns[j].align for j in keep], indent)]
    lines.append(" " * indent + RULE * (total(keep, widths) - indent))
    for r in rows:
        cells = []
        for j in keep:
            if columns[j].align == "l" and text_width(r[j]) > widths[j] or "\n" in r[j]:
                cells.append(_wrap(r[j], widths[j]))
            else:
                cells.append([r[j]])
        for k in range(max(len(c) for c in cells)):
            lines.append(_line([c[k] if k < len(c) else "" for c in cells], [widths[j] for j in keep],
                               [columns[j].align for j in keep], indent))
    return "\n".join(ln.rstrip() for ln in lines) + _dropped_note(dropped, width)


def _wrap(s: str, w: int) -> list[str]:
    out = []
    for part in s.split("\n"):
        out += textwrap.wrap(part, w, break_long_words=True, break_on_hyphens=False) or [""]
    return out


def _line(cells, widths, aligns, indent) -> str:
    return " " * indent + (" " * GAP).join(_pad(c, w, a) for c, w, a in zip(cells, widths, aligns))


def _dropped_note(dropped: list[str], width: int) -> str:
    if not dropped:
        return ""
    cols = ", ".join(dropped[::-1])
    k = len(dropped)
    return "\n" + fit(f"({k} column{'s' if k > 1 else ''} left out to fit {width} columns: {cols}; "
                      "--wide shows all)", width=width)


def _vertical(columns, rows, width, indent) -> str:
    key = max(text_width(c.name) for c in columns)
    out = []
    for r in rows:
        for c, v in zip(columns, r):
            head = " " * indent + _pad(c.name, key, "l") + " : "
            body = _wrap(v, max(12, width - text_width(head))) if v and c.align == "l" else [v]
            out.append(head + body[0])
            out += [" " * text_width(head) + b for b in body[1:]]
        out.append("")
    return "\n".join(ln.rstrip() for ln in out).rstrip("\n")


def fit(text: str, *, width: int | None = None, indent: str = "", hang: str = "    ") -> str:
    """One logical line wrapped to the terminal width; continuation lines start with ``hang``.

    >>> print(fit("∂L/∂w = (σ(wx + b) − y)·σ′(wx + b)·x + 2λw", width=24))
    ∂L/∂w = (σ(wx + b) −
        y)·σ′(wx + b)·x +
        2λw
    """
    width = terminal_width() if width is None else width
    if text_width(indent + text) <= width:
        return indent + text
    lead = len(text) - len(text.lstrip(" "))  # a line's own indentation is kept on its continuations
    indent, text = indent + " " * lead, text.lstrip(" ")
    return "\n".join(textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + hang,
                                   break_long_words=True, break_on_hyphens=False))


def echo_fit(text: str = "", **kw) -> None:
    """Print ``text`` line by line, each wrapped by :func:`fit`."""
    import typer

    for line in text.split("\n"):
        typer.echo(fit(line, **kw) if line else "")


def number(v, digits: int = 10, *, wide: bool = False) -> str:
    """A float for a table: ``digits`` significant digits, or with ``wide`` the shortest text that
    round-trips (``repr``: every digit float64 holds)."""
    if v is None:
        return "—"
    v = float(v)
    return repr(v) if wide else f"{v:.{digits}g}"


def _wide_option():
    from typing import Annotated

    import typer

    return Annotated[bool, typer.Option("--wide", help="Show every column and every digit (no fitting to the "
                                                       "terminal's width).")]


WideOpt = _wide_option()


def echo_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], **kw) -> None:
    import typer

    typer.echo(render(columns, rows, **kw))


# -- a drop-in for the few rich calls some commands make (Console().print, Table().add_column/add_row),
# so every table goes through the fitting above; rich markup such as [bold]…[/bold] is dropped.

_MARKUP = __import__("re").compile(r"\[/?(?:bold|italic|dim|red|green|yellow|blue)\]")


class Table:
    """``rich.table.Table``'s surface used by diffkit's commands, printed by :func:`render`."""

    def __init__(self, *_, **__) -> None:
        self.columns: list[Column] = []
        self.rows: list[tuple[str, ...]] = []

    def add_column(self, name: str = "", justify: str = "left", **_) -> None:
        self.columns.append(Column(_MARKUP.sub("", str(name)), "r" if justify == "right" else "l"))

    def add_row(self, *cells) -> None:
        self.rows.append(tuple(_MARKUP.sub("", "" if c is None else str(c)) for c in cells))


class Console:
    """``rich.console.Console.print`` for text and :class:`Table`, fitted to the terminal."""

    def __init__(self, *_, wide: bool = False, **__) -> None:
        self.wide = wide

    def print(self, obj="", *_, **__) -> None:
        import typer

        if isinstance(obj, Table):
            typer.echo(render(obj.columns, obj.rows, wide=self.wide))
        else:
            echo_fit(_MARKUP.sub("", str(obj)), width=10**9 if self.wide else None)


def _console(wide: bool = False) -> Console:
    return Console(wide=wide)
