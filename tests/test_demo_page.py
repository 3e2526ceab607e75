"The demo page in headless Chromium (Debian's `chromium`), driven by Playwright, against the real server, offline."
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
SLOW = 90_000  # ms: an analysis, or a mix, on a loaded machine


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, api_server):
    "A fresh page of the app, where every request to anything but the app is aborted and recorded."
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    failed: list[str] = []

    def only_the_app(route):
        url = route.request.url
        if url.startswith(api_server + "/"):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", only_the_app)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    page.goto(api_server + "/")
    page.failed = failed
    yield page
    context.close()
    assert not errors, errors
    assert not outside, outside


def wait_playing(button, timeout: float = SLOW) -> None:
    "Until the play `button` (a locator) says its sound plays: the page's one player fired `playing`."
    button.and_(button.page.locator('[data-state="playing"]')).wait_for(timeout=timeout)


def test_upload_shows_analysis_style_and_beats_to_hear_and_take(page, api_server):
    page.set_input_files("#file", str(SAMPLE))
    page.select_option("#top_k", "3")
    page.click("#submit")
    page.wait_for_selector("#results:not([hidden])", timeout=SLOW)
    rows = page.locator("#styles .style-row").all_text_contents()  # the six most probable styles, first first
    assert page.text_content("#style-name") in rows[0] and any("Afro" in row for row in rows[:3])  # an Afro groove
    assert float(page.text_content("#tempo")) == pytest.approx(107, abs=3)
    assert page.text_content("#key") == "E minor" and "Camelot 9A" in page.text_content("#key-more")
    assert page.locator("#rhythm tr").count() == 4 and page.locator("#styles .style-row").count() == 6  # a header row
    assert "low (kick, bass)" in page.text_content("#rhythm") and "16th note" in page.text_content("#grid-legend")
    assert "tempo × key × feel" in page.text_content("#score-legend")
    matches = page.locator("#matches .match")
    assert matches.count() == 3
    title = matches.first.locator("h3").text_content()
    assert title.startswith("1. ") and "#" not in title, title  # no seed in a beat's title
    first = page.locator("#matches .match:has(a.download.midi)").first  # one of our beats (a user's has no MIDI)
    score = first.locator(".score").text_content()
    assert score.startswith("fit 0.") and score.endswith(" fit"), score
    assert "× feel" in first.locator(".parts").text_content() and "tempo:" in first.locator("ul").text_content()
    assert any(code in first.locator(".tags").text_content() for code in [f"{n}{m})" for n in range(1, 13) for m in "AB"])
    # hear the track, the beat conformed to it, and the mix
    page.click("#play-original")
    wait_playing(page.locator("#play-original"))
    first.locator("button.play.audition").click()
    wait_playing(first.locator("button.play.audition"))
    first.locator("button.play.mix").click()
    wait_playing(first.locator("button.play.mix"))
    # take the MIDI, the beat and the mix away
    with page.expect_download() as midi:
        first.locator("a.download.midi").click()
    assert midi.value.suggested_filename.endswith(".mid")
    assert open(midi.value.path(), "rb").read(4) == b"MThd"
    with page.expect_download() as beat:
        first.locator("a.download.audition").click()
    assert beat.value.suggested_filename.endswith(".wav") and open(beat.value.path(), "rb").read(4) == b"RIFF"
    with page.expect_download() as mixed:
        first.locator("button.download.mix").click()
    assert open(mixed.value.path(), "rb").read(4) == b"RIFF"
    assert not page.failed, page.failed  # the icon too: nothing the page asked for was missing


def tab_to(page, selector: str, presses: int = 80) -> None:
    "Press Tab until the focused element matches `selector`, as a keyboard user would."
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


def test_the_keyboard_alone_reaches_everything(page):
    tab_to(page, "#sample")
    page.keyboard.press("Enter")  # try the sample
    page.wait_for_selector("#results:not([hidden])", timeout=SLOW)
    assert page.text_content("#style-name") in page.text_content("#styles") and page.text_content("#track-name") == "sample.flac"
    tab_to(page, "#matches .match button.play.original")
    page.keyboard.press("Space")
    wait_playing(page.locator("#matches .match button.play.original").first)
    tab_to(page, "#matches .match button.play.audition")
    page.keyboard.press("Enter")
    wait_playing(page.locator("#matches .match button.play.audition").first)
    tab_to(page, "#matches .match button.play.mix")
    page.keyboard.press("Space")
    wait_playing(page.locator("#matches .match button.play.mix").first)
    tab_to(page, "#matches .match a.download.midi")
    with page.expect_download() as midi:
        page.keyboard.press("Enter")
    assert open(midi.value.path(), "rb").read(4) == b"MThd"
    assert not page.failed, page.failed


def test_the_icon_and_the_sample_are_served(page, api_server):
    for path, kind in (("/favicon.ico", "image/svg+xml"), ("/favicon.svg", "image/svg+xml"), ("/sample.flac", "audio/flac")):
        response = page.request.get(api_server + path)
        assert response.status == 200 and response.headers["content-type"] == kind, path


def test_a_bad_file_shows_the_error(page):
    page.set_input_files("#file", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not audio " * 50}])
    page.click("#submit")
    page.wait_for_selector("#status.error", timeout=30_000)
    assert "not" in page.text_content("#status").lower() and page.is_hidden("#results")
