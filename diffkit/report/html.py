"""The HTML renderer: the report :class:`~diffkit.report.document.Document` through a Jinja2 template.

A pure function of the document: no clock, no random ids, no external resources.
"""

from __future__ import annotations

from pathlib import Path

from .document import Document

TEMPLATES = Path(__file__).parent / "templates"


def render_html(doc: Document) -> str:
    """The self-contained HTML text of ``doc``."""
    import jinja2

    from .. import __version__

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.get_template("report.html.j2").render(doc=doc, version=__version__)
