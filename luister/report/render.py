"""ReportData -> one self-contained HTML page (plotly.js inlined once, no network needed)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from plotly.offline import get_plotlyjs

from luister.report import charts
from luister.report.data import ReportData


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    about: str
    chart: Callable[[ReportData], go.Figure | None]
    no_data: str


SECTIONS = [
    Section("volume", "Volume per day, by type", "Every mention of the month, stacked by message type; dotted lines "
            "mark the days an alert opened.", charts.volume_by_type, "No mentions this month."),
    Section("sentiment", "Sentiment trend", "Mentions per day by sentiment, with the mean sentiment score "
            "(-1 negative … +1 positive).", charts.sentiment_trend, "No mentions this month."),
    Section("seasonality", "Complaints compared with earlier months",
            "Volume over the last 12 months and the share that is a complaint: the baseline to judge a month "
            "(seasonality, campaigns) before calling it a crisis.", charts.seasonality, "No mentions in 12 months."),
    Section("terms", "What complaints are about", "Words that stand out in this month's complaints compared with "
            "everything said about the brand.", charts.top_terms, "Too few complaints to tell."),
    Section("repeat", "Repeated negativity", "Customers with two or more negative mentions this month; dark bars "
            "spread their story over more than one source.", charts.repeat_customers,
            "No customer was negative more than once."),
    Section("personas", "Persona mix", "Who is talking: ambassadors, chronic critics, temporarily angry "
            "customers, quiet lurkers.", charts.persona_mix, "No data yet: no mention carries a persona."),
    Section("response", "Response deadlines", "Mentions that should get a reply: answered, past their deadline, "
            "or still open.", charts.response_compliance,
            "No data yet: no mention carries should_respond / respond_by."),
    Section("nss", "Net sentiment score", "Percentage positive minus percentage negative (-100 … +100), "
            "against last month.", charts.net_sentiment, "No mentions this month."),
    Section("sources", "Where it was said", "Mentions per source, on the brand's own profiles or on third-party "
            "sites.", charts.source_mix, "No mentions this month."),
]


def local_time(value: str | None, tz: str) -> str:
    """`2026-10-14T10:05:00Z` -> `2026-10-14 12:05` in the report's time zone."""
    if not value:
        return ""
    try:
        return datetime.fromisoformat(value).astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return value


def _env() -> Environment:
    env = Environment(loader=PackageLoader("luister.report", "templates"), autoescape=select_autoescape(["j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["local"] = local_time
    return env


def chart_html(fig: go.Figure, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, default_width="100%",
                       default_height=f"{fig.layout.height or 380}px",
                       config={"displayModeBar": False, "responsive": True})


def render(d: ReportData) -> str:
    sections = []
    for s in SECTIONS:
        fig = s.chart(d)
        sections.append({"id": s.id, "title": s.title, "about": s.about, "no_data": s.no_data,
                         "html": chart_html(fig, f"chart-{s.id}") if fig is not None else None})
    return _env().get_template("report.html.j2").render(d=d, sections=sections, plotlyjs=get_plotlyjs(),
                                                        response=d.response)


def drawn_sections(d: ReportData) -> list[str]:
    """The section ids that get a chart (the rest say 'no data')."""
    return [s.id for s in SECTIONS if s.chart(d) is not None]
