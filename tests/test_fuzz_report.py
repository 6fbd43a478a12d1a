"""Hostile text in the monthly report (luister/report/): every string that comes from
mentions — brand, customer ids (author handles), sources, channels, terms, personas, alert
summaries and topics — is escaped, so it can never add an element, an attribute or a
script to the page.

Property: a report filled with hostile strings has exactly the same element structure
(tags, attributes, number of scripts) as the same report filled with harmless ones, and
each hostile string still shows, as text.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from html.parser import HTMLParser

from hypothesis import given, settings
from markupsafe import escape
from hypothesis import strategies as st
from plotly.offline import get_plotlyjs

from luister.report.data import Customer, ReportData, Response
from luister.report.render import render
from tests.test_fuzz_normalize import ATTACKS, FUZZ_SETTINGS

N_REPORTS = 25
SLOTS = 12  # strings placed in the report: see `report()`
DAYS = [f"2026-10-{d:02d}" for d in range(1, 8)]


def report(s: list[str]) -> ReportData:
    """A month's report whose free-text slots hold `s` (SLOTS strings)."""
    n = len(DAYS)
    return ReportData(
        brand=s[0], month="2026-10", time_zone="Europe/Amsterdam",
        generated_at=datetime(2026, 11, 1, tzinfo=timezone.utc), watchlist=s[1], total=70,
        by_type={"complaint": 30, "question": 20, "compliment": 10, "suggestion": 5, "other": 5},
        by_sentiment={"negative": 35, "neutral": 20, "positive": 15},
        by_source={s[2]: {s[3]: 40}, "twitter": {"own": 30}},
        days=DAYS, daily_types={t: [i % 4 for i in range(n)] for t in
                                ("complaint", "question", "suggestion", "compliment", "other")},
        daily_sentiments={t: [1 + i % 3 for i in range(n)] for t in ("negative", "neutral", "positive")},
        daily_score=[-0.2] * n,
        history=[{"month": f"2026-{m:02d}", "total": 50 + m, "complaints": 10 + m, "share": 20.0, "nss": -5.0}
                 for m in range(1, 11)],
        top_terms=[(s[4], 9), ("bezorging", 7), ("pakket", 5)],
        customers=[Customer(s[5], 4, [s[2], "twitter"], [s[3]], 2, "2026-10-05T10:00:00Z"),
                   Customer(s[6], 2, ["twitter"], ["own"], 0, s[7])],
        personas={s[8]: 3, "brand_ambassador": 5},
        response=Response(should_respond=20, reply_data=False, answered=None, overdue=4, open=6),
        nss=-28.6, nss_previous=-10.0,
        alerts=[{"opened_at": "2026-10-03T09:00:00Z", "kind": s[9], "status": "open", "severity": 3,
                 "topic": s[10], "summary": s[11]}],
    )


class Shape(HTMLParser):
    """The page's element structure, and the text it shows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: Counter[str] = Counter()
        self.attributes: Counter[str] = Counter()
        self.text: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs) -> None:
        self.tags[tag] += 1
        self.attributes.update(f"{tag}[{name}]" for name, _ in attrs)
        self._in_script = tag == "script"

    def handle_endtag(self, tag) -> None:
        self.tags[f"/{tag}"] += 1
        self._in_script = False

    def handle_data(self, data) -> None:
        (self.scripts if self._in_script else self.text).append(data)


def shape(page: str) -> Shape:
    library = get_plotlyjs()
    assert page.count(library) == 1, "plotly.js inlined once"
    parser = Shape()
    parser.feed(page.replace(library, "/* plotly.js */"))
    parser.close()
    return parser


HOSTILE = st.one_of(st.sampled_from(ATTACKS), st.text(alphabet=st.sampled_from('<>"\'&/=;:() scriptimgonerror'),
                                                      min_size=1, max_size=40))


def test_hostile_strings_never_change_the_report_structure():
    benign = shape(render(report([f"safe{i}" for i in range(SLOTS)])))
    assert benign.tags["script"] >= 2, "the library and at least one chart"
    checked = Counter()

    @settings(max_examples=N_REPORTS, **FUZZ_SETTINGS)
    @given(strings=st.lists(HOSTILE, min_size=SLOTS, max_size=SLOTS))
    def check(strings: list[str]) -> None:
        page = render(report(strings))
        hostile = shape(page)
        assert hostile.tags == benign.tags, "a string added or removed elements"
        assert hostile.attributes == benign.attributes, "a string added attributes (onerror=...)"
        shown = "".join(hostile.text)
        for slot in (0, 1, 11):  # brand, watchlist and alert summary are shown as text in the page
            assert strings[slot].strip() in shown or not strings[slot].strip()
        checked["reports"] += 1

    check()
    assert checked["reports"] >= N_REPORTS


def test_every_known_attack_is_escaped_where_it_is_shown():
    harmless = shape(render(report(["x"] * SLOTS))).tags
    for attack in ATTACKS:
        page = render(report([attack] * SLOTS))
        assert shape(page).tags == harmless, attack
        assert str(escape(attack)) in page, f"shown, escaped: {attack}"
