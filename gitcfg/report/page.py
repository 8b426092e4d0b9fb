"""The report page: Jinja2 templates filled with the report's data, plotly.js inlined once.

The only module that imports the ``report`` extra (Jinja2 and plotly). Every piece of user text
reaches the page either through Jinja2's autoescaping or as JSON inside a
``<script type="application/json">`` element with ``<``, ``>``, ``&`` and ``'`` escaped (Jinja2's
``tojson``), which the page's script reads with ``JSON.parse`` and writes with ``textContent``
only: a config value ``<script>alert(1)</script>`` stays text.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from gitcfg.errors import MissingExtraError

_EXTRA = "report"
_PACKAGES = ("Jinja2", "plotly")
# A "</script" inside inlined JavaScript would end its <script> element early; "<\/script"
# means the same to JavaScript in strings and regular expressions alike.
_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)


def _modules() -> tuple[Any, Any]:
    try:
        import jinja2
        import plotly.offline
    except ModuleNotFoundError as exc:
        raise MissingExtraError(_EXTRA, _PACKAGES) from exc
    except ImportError as exc:  # installed but broken: say what broke
        raise MissingExtraError(_EXTRA, _PACKAGES, problem=str(exc)) from exc
    return jinja2, plotly.offline


def check_available() -> None:
    """Raise ``MissingExtraError`` (naming the pip command) unless Jinja2 and plotly import."""
    _modules()


def plotly_version() -> str:
    """The version of plotly whose JavaScript the page inlines."""
    import plotly

    return str(plotly.__version__)


def render_page(data: dict[str, Any]) -> str:
    """The complete HTML page for ``data`` (from ``gitcfg.report.shape.report_data``)."""
    jinja2, offline = _modules()
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gitcfg.report", "templates"),
        autoescape=True,  # every {{ }} is HTML-escaped unless marked safe
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    # strict JSON (no NaN), in the data's own order, compact: 10,000 runs stay small and quick
    env.policies["json.dumps_kwargs"] = {
        "sort_keys": False,
        "allow_nan": False,
        "separators": (",", ":"),
    }
    plotly_js = _SCRIPT_END.sub(r"<\\/\1", offline.get_plotlyjs())
    # the page's own script and style are read as they are, not as templates ({{ in JS is data)
    templates = resources.files("gitcfg.report") / "templates"
    script = _SCRIPT_END.sub(r"<\\/\1", (templates / "report.js").read_text("utf-8"))
    style = (templates / "report.css").read_text("utf-8")
    template = env.get_template("report.html.j2")
    return str(
        template.render(
            data=data,
            title=data["title"],
            context=data["context"],
            # trusted code, marked |safe in the template: plotly's bundle and the page's own
            plotly_js=plotly_js,
            script=script,
            style=style,
        )
    )
