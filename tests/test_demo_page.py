"The demo page in headless Chromium (Debian's `chromium`), driven by Playwright, against the real server."
from __future__ import annotations

import shutil

import pytest

from conftest import SAMPLE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")

# a closed network: no background connections, no first-run work
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def page(api_server):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(api_server + "/")
        yield page
        browser.close()
        assert not errors, errors


def test_upload_shows_analysis_style_and_playable_beats(page):
    page.set_input_files("#file", str(SAMPLE))
    page.select_option("#top_k", "3")
    page.click("#submit")
    page.wait_for_selector("#results:not([hidden])", timeout=60_000)
    assert page.text_content("#style-name") == "Afro"
    assert float(page.text_content("#tempo")) == pytest.approx(107, abs=3)
    assert page.text_content("#key") == "E minor" and "9A" in page.text_content("#key-more")
    assert page.locator("#rhythm tr").count() == 3 and page.locator("#styles .style-row").count() == 6
    assert page.locator("#matches .match").count() == 3
    assert "tempo:" in page.text_content("#matches .match ul")
    source = page.eval_on_selector("#matches .match audio", "a => a.src")
    assert "/beats/" in source and source.endswith("/audio")
    # the browser can load what the source points at
    duration = page.eval_on_selector("#matches .match audio", """a => new Promise((ok, fail) => {
        a.preload = "auto"; a.onloadedmetadata = () => ok(a.duration); a.onerror = () => fail(String(a.error && a.error.code)); a.load(); })""")
    assert duration > 5


def test_a_bad_file_shows_the_error(page):
    page.set_input_files("#file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not audio " * 50}])
    page.click("#submit")
    page.wait_for_selector("#status.error", timeout=30_000)
    assert "not" in page.text_content("#status").lower() and page.is_hidden("#results")
