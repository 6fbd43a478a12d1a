"""Plotly figures of the monthly report: pure functions of ReportData, None when there is no data."""
from __future__ import annotations

import re

import plotly.graph_objects as go

from luister.report.data import SENTIMENTS, STOPWORDS, TYPES, ReportData

COLORS = {
    "complaint": "#d62728", "question": "#1f77b4", "suggestion": "#9467bd", "compliment": "#2ca02c", "other": "#7f7f7f",
    "negative": "#d62728", "neutral": "#aaaaaa", "positive": "#2ca02c",
}
LAYOUT = dict(template="plotly_white", height=380, margin=dict(l=50, r=30, t=40, b=50),
              legend=dict(orientation="h", y=-0.18), font=dict(family="Helvetica, Arial, sans-serif", size=12))
_WORD = re.compile(r"^[^\W\d_]{3,}$")  # letters only, at least 3: drops emoji, urls, numbers, "ff"


def clean_terms(terms: list[tuple[str, int]], limit: int = 15) -> list[tuple[str, int]]:
    stop = set(STOPWORDS)
    return [(t, n) for t, n in terms if _WORD.match(t) and t.lower() not in stop][:limit]


def _fig(**layout) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(**{**LAYOUT, **layout})
    return fig


def volume_by_type(d: ReportData) -> go.Figure | None:
    if not d.total:
        return None
    fig = _fig(barmode="stack", yaxis_title="mentions per day")
    for t in TYPES:
        if any(d.daily_types[t]):
            fig.add_bar(x=d.days, y=d.daily_types[t], name=t, marker_color=COLORS[t])
    for alert in d.alerts or []:
        day = str(alert.get("opened_at", ""))[:10]
        if day in d.days:  # mark the day each alert opened
            fig.add_vline(x=day, line_dash="dot", line_color="#333")
    return fig


def sentiment_trend(d: ReportData) -> go.Figure | None:
    if not d.total:
        return None
    fig = _fig(barmode="stack", yaxis_title="mentions per day",
               yaxis2=dict(title="mean sentiment score", overlaying="y", side="right", range=[-1, 1], showgrid=False))
    for s in SENTIMENTS:
        fig.add_bar(x=d.days, y=d.daily_sentiments[s], name=s, marker_color=COLORS[s], opacity=0.75)
    fig.add_scatter(x=d.days, y=d.daily_score, name="mean score", yaxis="y2", mode="lines+markers",
                    line=dict(color="#222", width=2), connectgaps=False)
    return fig


def seasonality(d: ReportData) -> go.Figure | None:
    if not any(h["total"] for h in d.history):
        return None
    months = [h["month"] for h in d.history]
    fig = _fig(yaxis_title="mentions per month",
               yaxis2=dict(title="complaints, % of mentions", overlaying="y", side="right", rangemode="tozero",
                           showgrid=False))
    fig.add_bar(x=months, y=[h["total"] - h["complaints"] for h in d.history], name="other mentions",
                marker_color="#c7d7ea")
    fig.add_bar(x=months, y=[h["complaints"] for h in d.history], name="complaints", marker_color=COLORS["complaint"])
    fig.add_scatter(x=months, y=[h["share"] for h in d.history], name="complaint share %", yaxis="y2",
                    mode="lines+markers", line=dict(color="#222"))
    fig.update_layout(barmode="stack", xaxis_type="category")
    return fig


def top_terms(d: ReportData) -> go.Figure | None:
    terms = sorted(clean_terms(d.top_terms), key=lambda t: t[1])  # ascending: plotly draws the largest on top
    if not terms:
        return None
    fig = _fig(height=max(260, 26 * len(terms) + 80), xaxis_title="complaints using the word",
               margin=dict(l=120, r=30, t=30, b=50))
    fig.add_bar(x=[n for _, n in terms], y=[t for t, _ in terms], orientation="h", marker_color=COLORS["complaint"])
    return fig


def repeat_customers(d: ReportData) -> go.Figure | None:
    if not d.customers:
        return None
    rows = d.customers[::-1]
    fig = _fig(height=max(260, 28 * len(rows) + 80), xaxis_title="negative mentions this month",
               margin=dict(l=220, r=30, t=30, b=50))
    fig.add_bar(x=[c.negatives for c in rows], y=[c.customer_id for c in rows], orientation="h",
                marker_color=["#8c1c13" if len(c.sources) > 1 else "#e377c2" for c in rows],
                text=[f"{len(c.sources)} source(s)" for c in rows], textposition="auto")
    return fig


def persona_mix(d: ReportData) -> go.Figure | None:
    if not d.personas:
        return None
    fig = _fig(height=340)
    fig.add_pie(labels=list(d.personas), values=list(d.personas.values()), hole=0.45, sort=False)
    return fig


def response_compliance(d: ReportData) -> go.Figure | None:
    r = d.response
    if r is None:
        return None
    labels, values, colors = ["overdue", "still open"], [r.overdue, r.open], ["#d62728", "#ff7f0e"]
    if r.reply_data and r.answered is not None:
        labels, values, colors = ["answered"] + labels, [r.answered] + values, ["#2ca02c"] + colors
    fig = _fig(height=300, xaxis_title=f"mentions that should get a reply ({r.should_respond})", barmode="stack",
               yaxis=dict(showticklabels=False))
    for label, value, color in zip(labels, values, colors, strict=True):
        fig.add_bar(x=[value], y=["replies"], name=label, orientation="h", marker_color=color, text=[value])
    return fig


def net_sentiment(d: ReportData) -> go.Figure | None:
    if d.nss is None:
        return None
    fig = _fig(height=260, margin=dict(l=30, r=30, t=30, b=10))
    indicator = dict(mode="gauge+number" + ("+delta" if d.nss_previous is not None else ""), value=d.nss,
                     number=dict(suffix=" pts"),
                     gauge=dict(axis=dict(range=[-100, 100]), bar=dict(color="#222"),
                                steps=[dict(range=[-100, -20], color="#f4c7c3"), dict(range=[-20, 20], color="#eee"),
                                       dict(range=[20, 100], color="#c9e7c9")]))
    if d.nss_previous is not None:
        indicator["delta"] = dict(reference=d.nss_previous, suffix=" vs last month")
    fig.add_indicator(**indicator)
    return fig


def source_mix(d: ReportData) -> go.Figure | None:
    if not d.by_source:
        return None
    sources = list(d.by_source)
    fig = _fig(barmode="stack", yaxis_title="mentions", height=320)
    for channel, color in (("own", "#1f77b4"), ("third_party", "#aec7e8")):
        fig.add_bar(x=sources, y=[d.by_source[s].get(channel, 0) for s in sources], name=channel, marker_color=color)
    return fig
