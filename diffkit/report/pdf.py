"""The PDF renderer: the same :class:`~diffkit.report.document.Document` (and the same SVGs) with fpdf2.

Text uses DejaVu Sans from matplotlib's data directory (σ, λ, ∂, ′, ² and − are all in it), so no
system fonts are needed.  The creation date is fixed (``SOURCE_DATE_EPOCH`` when set), so the same
document gives the same bytes.
"""

from __future__ import annotations

import io
import os
from datetime import datetime, timezone
from pathlib import Path

from .document import Code, Document, Equations, Figure, Math, Para, Table
from .mathsvg import svg_size

PT = 25.4 / 72  # mm per point
TEXT_PT = 10.0
#: Display maths is drawn as if set at this size (a projected A4 page stays readable), table maths
#: at the text size.
EQ_PT = 14.0
TABLE_EQ_PT = 10.0
#: A figure that does not fit the rest of a page is shrunk down to this fraction of its size
#: rather than leaving the rest of the page blank.
SHRINK_TO_FIT = 0.6
FIXED_DATE = datetime(2000, 1, 1, tzinfo=timezone.utc)


def _fonts() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def creation_date() -> datetime:
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde and sde.isdigit():
        return datetime.fromtimestamp(int(sde), tz=timezone.utc)
    return FIXED_DATE


class _PDF:
    def __init__(self, title: str) -> None:
        from fpdf import FPDF

        pdf = FPDF(orientation="P", unit="mm", format="A4")
        pdf.set_margins(16, 16, 16)
        pdf.set_auto_page_break(True, margin=16)
        fonts = _fonts()
        pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
        pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
        pdf.add_font("DejaVu", "I", str(fonts / "DejaVuSans-Oblique.ttf"))
        pdf.add_font("DejaVuMono", "", str(fonts / "DejaVuSansMono.ttf"))
        pdf.set_title(title)
        pdf.set_author("diffkit")
        pdf.set_creator("diffkit")
        pdf.set_producer("diffkit (fpdf2)")
        pdf.set_creation_date(creation_date())
        pdf.alias_nb_pages()
        self.pdf = pdf
        self.footer_title = title

    @property
    def width(self) -> float:
        return self.pdf.epw

    def ensure(self, h: float) -> None:
        """Start a new page unless ``h`` mm still fit on this one."""
        if self.pdf.get_y() + h > self.pdf.page_break_trigger:
            self.pdf.add_page()

    @property
    def room(self) -> float:
        """mm left on this page."""
        return self.pdf.page_break_trigger - self.pdf.get_y()

    def text_height(self, txt: str, *, size: float = TEXT_PT, style: str = "", family: str = "DejaVu",
                    lh: float = 1.45, fill=None) -> float:
        p = self.pdf
        p.set_font(family, style, size)
        return p.multi_cell(0, size * PT * lh, txt, dry_run=True, output="HEIGHT",
                            padding=(1.2, 2, 1.2, 2) if fill else 0)

    def text(self, txt: str, *, size: float = TEXT_PT, style: str = "", color=(26, 26, 26), fill=None,
             family: str = "DejaVu", lh: float = 1.45, keep: bool = False) -> None:
        """A paragraph; ``keep``: never split across pages (a box, a caption)."""
        p = self.pdf
        if keep:
            self.ensure(self.text_height(txt, size=size, style=style, family=family, lh=lh, fill=fill))
        p.set_font(family, style, size)
        p.set_text_color(*color)
        if fill:
            p.set_fill_color(*fill)
        p.multi_cell(0, size * PT * lh, txt, fill=bool(fill), new_x="LMARGIN", new_y="NEXT",
                     padding=(1.2, 2, 1.2, 2) if fill else 0)

    def svg(self, svg: str, w: float, h: float, x: float | None = None) -> None:
        p = self.pdf
        self.ensure(h)
        # SVG's default fill is black; fpdf2 would otherwise inherit the last fill colour used
        p.set_fill_color(0, 0, 0)
        p.set_draw_color(0, 0, 0)
        p.image(io.BytesIO(svg.encode("utf-8")), x=p.l_margin if x is None else x, y=p.get_y(), w=w, h=h)
        p.set_y(p.get_y() + h)

    def math_size(self, m: Math, *, indent: float = 4.0) -> list[tuple[str, float, float]]:
        """Each SVG line of ``m`` with its (width, height) in mm on the page."""
        scale = EQ_PT / m.size * PT
        out = []
        for s in m.svgs:
            w, h = svg_size(s)
            w, h = w * scale, h * scale
            avail = self.width - indent
            if w > avail:
                w, h = avail, h * avail / w
            out.append((s, w, h))
        return out

    def math(self, m: Math, *, indent: float = 4.0) -> None:
        for s, w, h in self.math_size(m, indent=indent):
            self.svg(s, w, h, x=self.pdf.l_margin + indent)
            self.pdf.ln(1.0)


def render_pdf(doc: Document) -> bytes:
    """The PDF bytes of ``doc``."""
    from fpdf.fonts import FontFace

    out = _PDF(doc.title)
    p = out.pdf
    p.add_page()
    out.text(doc.title, size=18, style="B")
    out.text(doc.subtitle, size=10.5, color=(91, 98, 112))
    p.ln(2)
    for sec in doc.sections:
        # a heading stays with the start of its content
        out.ensure(16 + (_start_height(out, sec.blocks[0]) if sec.blocks else 0))
        p.ln(3)
        p.start_section(sec.title)
        out.text(sec.title, size=14, style="B", color=(31, 78, 140))
        p.set_draw_color(200, 205, 212)
        p.line(p.l_margin, p.get_y(), p.l_margin + out.width, p.get_y())
        p.ln(2)
        for b in sec.blocks:
            if isinstance(b, Para):
                if b.kind == "shows":
                    out.text(b.text, fill=(235, 242, 251), keep=True)
                elif b.kind == "note":
                    out.text(b.text, style="I", color=(91, 98, 112), keep=True)
                else:
                    out.text(b.text)
                p.ln(1.5)
            elif isinstance(b, Equations):
                first = True
                for label, m in b.rows:
                    need = sum(h + 1.0 for _, _, h in out.math_size(m)) + (5 if label else 0)
                    if first and b.caption:
                        need += out.text_height(b.caption, size=9)
                    out.ensure(need)
                    if first and b.caption:
                        out.text(b.caption, size=9, color=(91, 98, 112))
                    first = False
                    if label:
                        out.text(label, size=9, color=(91, 98, 112))
                    out.math(m)
                p.ln(1.5)
            elif isinstance(b, Table):
                _table(out, b, FontFace)
                p.ln(2.5)
            elif isinstance(b, Figure):
                _figure(out, b)
            elif isinstance(b, Code):
                # no source dump in the PDF: the HTML report carries it
                out.text(f"{b.summary}: in the HTML report beside this PDF.", size=9, style="I",
                         color=(91, 98, 112), keep=True)
                p.ln(1.5)
    return bytes(p.output())


def _start_height(out: _PDF, b) -> float:
    """Height (mm) of the first piece of ``b`` that must sit under its heading."""
    if isinstance(b, Figure):
        return min(_figure_height(out, b) * SHRINK_TO_FIT, 90)
    if isinstance(b, Equations):
        m = b.rows[0][1] if b.rows else None
        return 8 + (sum(h for _, _, h in out.math_size(m)) if m else 0)
    if isinstance(b, Table):
        return _table_keep(out, b)
    if isinstance(b, Para):
        return min(out.text_height(b.text, fill=b.kind == "shows"), 40)
    return 10


#: A graph drawing shrunk below this scale on a portrait page gets a landscape page of its own.
LANDSCAPE_BELOW = 0.75


def _figure_height(out: _PDF, b: Figure) -> float:
    w, h = svg_size(b.svg)
    tw = out.width * (0.92 if b.kind == "plot" else 1.0)
    return min(h * tw / w, 110.0) + 12


def _figure(out: _PDF, b: Figure) -> None:
    p = out.pdf
    w, h = svg_size(b.svg)  # points
    landscape = b.kind == "graph" and out.width / (w * PT) < LANDSCAPE_BELOW
    if landscape:
        p.add_page(orientation="L")
    tw = out.width * (0.92 if b.kind == "plot" else 1.0)
    tw = min(tw, w * PT * 1.2)
    th = h * tw / w
    maxh = (p.page_break_trigger - p.t_margin - 25) if b.kind == "graph" else 110.0
    if th > maxh:
        tw, th = tw * maxh / th, maxh
    cap = out.text_height(b.caption, size=9) + 3
    if th + cap > out.room and (th * SHRINK_TO_FIT + cap) <= out.room:
        # shrink a little rather than leave the rest of the page blank
        k = (out.room - cap) / th
        tw, th = tw * k, th * k
    out.ensure(th + cap)
    out.svg(b.svg, tw, th, x=p.l_margin + (out.width - tw) / 2)
    p.ln(1)
    out.text(b.caption, size=9, color=(91, 98, 112))
    p.ln(2)
    if landscape:
        p.add_page(orientation="P")


def _table_keep(out: _PDF, b: Table) -> float:
    """mm that must fit on the page before a table starts: all of a short table with its caption,
    or its caption and first rows (90 mm) of a long one."""
    lines = sum(max(2 if isinstance(c, Math) and len(c.pretty) > 40 else 1 for c in r) for r in b.rows) + 2
    cap_h = out.text_height(b.caption, size=9) if b.caption else 0
    return min(lines * 5.5 + cap_h, 90)


def _table(out: _PDF, b: Table, FontFace) -> None:
    p = out.pdf
    ncol = len(b.columns)
    out.ensure(_table_keep(out, b))  # keep a short table (with its caption) on one page
    if b.caption:
        out.text(b.caption, size=9, color=(91, 98, 112))
    widths = b.widths if len(b.widths) == ncol else tuple([1.0] * ncol)
    size = 8.6 if ncol <= 5 else 7.6
    p.set_font("DejaVu", "", size)
    p.set_text_color(26, 26, 26)
    align = tuple("RIGHT" if b.alignment(j) == "r" else "LEFT" for j in range(ncol))
    head = FontFace(emphasis="BOLD", fill_color=(236, 239, 243))
    with p.table(col_widths=widths, text_align=align, headings_style=head, line_height=size * PT * 1.5,
                 borders_layout="HORIZONTAL_LINES", padding=(0.8, 1.2), width=out.width,
                 first_row_as_headings=True, repeat_headings=1) as t:
        row = t.row()
        for c in b.columns:
            row.cell(c)
        for r in b.rows:
            row = t.row()
            for c in r:
                row.cell(c.pretty if isinstance(c, Math) else str(c))
    if b.note:
        p.ln(1)
        out.text(b.note, size=8.6, style="I", color=(91, 98, 112), keep=True)
