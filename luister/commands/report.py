"""`luister report`: the monthly webcare report as one self-contained HTML page (PDF/PNG too)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from core.settings import Settings
from luister.commands._es import connect


def _month(value: str | None) -> str:
    if value is None:  # the last full month
        now = datetime.now(timezone.utc)
        y, m = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
        return f"{y:04d}-{m:02d}"
    try:
        datetime.strptime(value, "%Y-%m")
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM, e.g. 2026-10", param_hint="--month") from exc
    return value


@click.command(name="report")
@click.option("--brand", required=True, help="The brand the report is about.")
@click.option("--month", default=None, help="YYYY-MM (default: last month). Days are counted in report_timezone.")
@click.option("--out", type=click.Path(dir_okay=False), default="report.html", show_default=True,
              help="The HTML file to write (self-contained: open it anywhere, offline).")
@click.option("--watchlist", default=None, help="Only mentions by members of this watchlist.")
@click.option("--pdf", type=click.Path(dir_okay=False), default=None, help="Also print it to this PDF (Chromium).")
@click.option("--png", type=click.Path(dir_okay=False), default=None, help="Also screenshot it to this PNG (Chromium).")
@click.pass_obj
def report(settings: Settings, brand: str, month: str | None, out: str, watchlist: str | None, pdf: str | None,
           png: str | None) -> None:
    """Monthly report for one brand: volume by type, sentiment, seasonality, complaint topics,
    repeated negativity, personas, response deadlines, net sentiment and the month's alerts.

    \b
    Example:
      luister report --brand PakjePost --month 2026-10 --out report.html --pdf report.pdf
    """
    from luister.report import data, export, render

    month = _month(month)
    click.echo(f"collecting {brand} {month} from {settings.es_index_prefix} …", err=True)
    try:
        d = data.collect(connect(settings), index=settings.es_index_prefix, brand=brand, month=month,
                         tz=settings.report_timezone, watchlist_index=settings.es_watchlist_index,
                         alerts_index=settings.es_alerts_index, watchlist=watchlist)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    path = Path(out)
    path.write_text(render.render(d), encoding="utf-8")
    drawn = render.drawn_sections(d)
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): {d.total} mentions, "
               f"{len(drawn)} chart(s): {', '.join(drawn)}")
    try:
        if pdf:
            click.echo(f"printing {pdf} with headless Chromium …", err=True)
            click.echo(f"wrote {export.to_pdf(path, Path(pdf), chromium=settings.chromium)}")
        if png:
            click.echo(f"rendering {png} with headless Chromium …", err=True)
            click.echo(f"wrote {export.to_png(path, Path(png), chromium=settings.chromium)}")
    except export.ChromiumMissing as exc:
        raise click.ClickException(str(exc)) from exc


COMMANDS = [report]
