"""The report as data: sections of blocks that both the HTML template and the PDF writer render.

Keeping one document object is what makes "the PDF shows the same content" checkable: the two
renderers walk the same blocks in the same order.  Blocks marked ``timing=True`` hold measured wall
times; they are the only parts that differ between two runs on the same inputs (see
:mod:`diffkit.report.reproduce`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Math:
    """Typeset maths: LaTeX source, its lines as SVG (display maths, HTML and PDF) or as MathML
    (maths in table cells, HTML only), and a Unicode fallback (PDF tables)."""

    latex: str
    svgs: tuple[str, ...]
    pretty: str = ""
    size: float = 15.0       # font size (px) the SVGs were drawn at
    mathml: tuple[str, ...] = ()


Cell = Union[str, Math]


@dataclass(frozen=True)
class Para:
    text: str
    kind: str = "text"       # "text" | "shows" (the generated "what this shows") | "note"
    timing: bool = False


@dataclass(frozen=True)
class Equations:
    """Display equations, one per row: optional label (e.g. "lecture form") and the maths."""

    rows: tuple[tuple[str, Math], ...]
    caption: str = ""


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    align: str = ""          # one letter per column: l / r (default: first l, rest r)
    caption: str = ""
    timing_columns: tuple[int, ...] = ()
    timing_rows: tuple[int, ...] = ()   # rows whose cells (after the first) are measured times
    widths: tuple[float, ...] = ()  # relative column widths for the PDF
    note: str = ""           # a generated remark printed under the table (e.g. what was clamped)

    def is_timing(self, i: int, j: int) -> bool:
        return j in self.timing_columns or (i in self.timing_rows and j > 0)

    def alignment(self, j: int) -> str:
        if self.align and j < len(self.align):
            return self.align[j]
        return "l" if j == 0 else "r"


@dataclass(frozen=True)
class Figure:
    svg: str
    caption: str
    kind: str = "plot"       # "plot" | "graph"
    timing: bool = False


@dataclass(frozen=True)
class Code:
    """Source text (the graph's DOT): a collapsed block in the HTML; the PDF only names it."""

    text: str
    summary: str


Block = Union[Para, Equations, Table, Figure, Code]


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    sections: tuple[Section, ...]

    def blocks(self):
        for s in self.sections:
            yield from s.blocks

    def equations(self) -> list[Math]:
        """Every Math in the document, in order (display equations and table cells)."""
        out = []
        for b in self.blocks():
            if isinstance(b, Equations):
                out += [m for _, m in b.rows]
            elif isinstance(b, Table):
                out += [c for row in b.rows for c in row if isinstance(c, Math)]
        return out

    def figures(self) -> list[Figure]:
        return [b for b in self.blocks() if isinstance(b, Figure)]
