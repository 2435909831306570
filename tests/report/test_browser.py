"""The report in a real browser: headless Chromium opens the page from disk at laptop and
phone widths; no console message, the verdict, the tables and every plot rendered, and a
screenshot saved.

Chromium is Debian's ``chromium`` package (``make test`` installs it when missing). Without
it these tests skip, unless ``LRLAB_REQUIRE_BROWSER=1`` (set by ``make test`` and CI), where
they fail.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from lrlab.report import member_table, write_page
from lrlab.reproduce import Claim, claims_frame
from lrlab.train import SweepResult

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _chromium() -> str:
    found = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    if found is None:
        if os.environ.get("LRLAB_REQUIRE_BROWSER") == "1":
            pytest.fail("LRLAB_REQUIRE_BROWSER=1 but chromium is not installed: "
                        "apt-get install chromium (make test does it when run as root)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def _open(page: Path, tmp_path: Path, width: int, height: int) -> tuple[str, list[str], Path]:
    """Load ``page`` headless at ``width x height``: the rendered DOM, the console lines,
    and the screenshot's path."""
    shot = tmp_path / f"report-{width}x{height}.png"
    command = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-extensions", "--disable-background-networking",
               "--enable-logging=stderr", "--v=0", f"--user-data-dir={tmp_path / 'profile'}",
               f"--window-size={width},{height}", f"--screenshot={shot}", "--dump-dom",
               page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console, shot


@pytest.mark.parametrize("width, height", [(1280, 900), (390, 844)],
                         ids=["laptop", "phone"])
def test_the_report_renders_in_chromium(report_page: Path, blobs_run: SweepResult,
                                        tmp_path: Path, width: int, height: int) -> None:
    dom, console, shot = _open(report_page, tmp_path, width, height)
    assert console == []  # no error, warning or log from the page
    verdict = re.search(r'<p class="verdict" id="verdict">(.*?)</p>', dom)
    assert verdict and html.unescape(verdict.group(1)) == blobs_run.verdict()
    assert dom.count('<table class="lrlab-table">') == 3  # per member, seeds, sensitivity
    assert re.findall(r"<th[^>]*>epochs_<wbr>to_<wbr>target</th>", dom)  # may break at "_"
    figures = dom.count('<figure class="lrlab-plot"')
    assert figures == 9
    body = re.search(r"<body ([^>]*)>", dom).group(1)
    state = dict(re.findall(r'data-([a-z-]+)="(\d+)"', body))
    assert int(state["figures-shown"]) == figures  # every PNG decoded and laid out
    # nothing wider than the window; on a phone wide tables scroll inside their own box,
    # at 1280 px none needs to (headers break after "_", numbers stay whole)
    assert int(state["page-width"]) <= int(state["viewport-width"])
    if width < 600:  # headless Chromium's narrowest window is 500 px: still the phone layout
        assert int(state["viewport-width"]) < 600
    else:
        assert int(state["tables-overflowing"]) == 0
    data = shot.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 10_000
    with Image.open(shot) as image:
        assert image.size[1] == height
        assert image.convert("L").getextrema()[0] < 100  # something dark was drawn


def test_a_claims_table_fits_a_1280_px_window(blobs_run: SweepResult, tmp_path: Path) -> None:
    """A reproduction's page: a claims table of long sentences (they wrap) beside the
    member table, no horizontal scrollbar at 1280 px."""
    words = ("the loss falls fastest at the largest rate that does not diverge, within "
             "two standard errors over the seeds, on every task of the brief")
    claims = claims_frame([Claim(claim=f"{i}: {words}", measured=f"measured {words} " * 2,
                                 verdict="holds", rule=f"rule: {words}") for i in range(3)])
    page = write_page(tmp_path / "claims.html", title="claims", verdict="2 of 3 hold",
                      settings={"size": "test"}, figures=[],
                      tables=[("claims", claims), ("per member", member_table(blobs_run))])
    dom, console, _ = _open(page, tmp_path, 1280, 900)
    assert console == []
    state = dict(re.findall(r'data-([a-z-]+)="(\d+)"', re.search(r"<body ([^>]*)>", dom)[1]))
    assert int(state["page-width"]) <= int(state["viewport-width"])
    assert int(state["tables-overflowing"]) == 0


def test_a_required_browser_that_is_missing_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("LRLAB_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        _chromium()
    monkeypatch.setenv("LRLAB_REQUIRE_BROWSER", "0")
    with pytest.raises(pytest.skip.Exception):
        _chromium()
