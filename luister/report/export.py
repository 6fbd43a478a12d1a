"""Headless Chromium for the report: PDF/PNG export and reading the page after its scripts ran.

Chromium is Debian's `chromium` package (`make chromium` installs it). Every run gets a
fresh profile directory and no network chatter, so it works offline and in CI as root.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# Long enough for plotly.js (~5 MB, inlined) to parse and draw every chart.
JS_BUDGET_MS = 20_000


class ChromiumMissing(RuntimeError):
    pass


def find_chromium(configured: str = "") -> str:
    if configured:
        if not Path(configured).exists() and not shutil.which(configured):
            raise ChromiumMissing(f"chromium {configured!r} (setting `chromium`) not found")
        return shutil.which(configured) or configured
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise ChromiumMissing("no Chromium found: install Debian's package with `make chromium` "
                          "(apt-get install chromium) or set LUISTER_CHROMIUM")


def _run(binary: str, args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="luister-chromium-") as profile:
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
               f"--virtual-time-budget={JS_BUDGET_MS}", *args]
        result = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise RuntimeError(f"chromium exited with {result.returncode}: {result.stderr.decode(errors='replace')[-800:]}")
    return result


def dump_dom(html: Path, *, chromium: str = "", timeout: float = 120) -> str:
    """The page's DOM after its scripts ran (plotly's <svg class="main-svg"> per drawn chart)."""
    return _run(find_chromium(chromium), ["--dump-dom", html.resolve().as_uri()], timeout).stdout.decode()


def to_pdf(html: Path, pdf: Path, *, chromium: str = "", timeout: float = 180) -> Path:
    _run(find_chromium(chromium), [f"--print-to-pdf={pdf.resolve()}", "--no-pdf-header-footer",
                                   html.resolve().as_uri()], timeout)
    return pdf


def to_png(html: Path, png: Path, *, width: int = 1280, height: int = 4200, chromium: str = "",
           timeout: float = 180) -> Path:
    _run(find_chromium(chromium), [f"--screenshot={png.resolve()}", f"--window-size={width},{height}",
                                   html.resolve().as_uri()], timeout)
    return png
