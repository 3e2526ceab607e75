"The carousel: slides/carousel.ipynb under papermill, and build_carousel, on a generated file with a small catalogue."
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("matplotlib")
from PIL import Image  # noqa: E402  (matplotlib depends on Pillow)

from beat_selection.beats import BeatSpec, generate_beat  # noqa: E402
from beat_selection.carousel import PAGE_PIXELS, build_carousel  # noqa: E402
from beat_selection.style import theme_colours  # noqa: E402

SLIDES = Path(__file__).parent.parent / "slides"


@pytest.fixture(scope="module")
def groove(tmp_path_factory) -> Path:
    "Four bars of a generated Afro beat (about 9 s): short, with a tempo, a key and a style to show."
    beat = generate_beat(BeatSpec("afro", bpm=104, key="A minor", bars=4), seed=7)
    path = tmp_path_factory.mktemp("input") / "groove.wav"
    sf.write(path, beat.audio, beat.sr)
    return path


def check_deck(folder: Path, theme: str) -> None:
    "8-10 pages of 1080×1350, none blank, and a PDF with as many pages."
    pages = sorted(folder.glob("page-*.png"))
    assert 8 <= len(pages) <= 10, [p.name for p in pages]
    assert [p.name for p in pages] == [f"page-{i:02d}.png" for i in range(1, len(pages) + 1)]
    background = np.array(Image.new("RGB", (1, 1), theme_colours(theme)["background"]).getpixel((0, 0)), float)
    for page in pages:
        image = Image.open(page)
        assert image.size == PAGE_PIXELS, (page.name, image.size)
        pixels = np.asarray(image.convert("RGB"), dtype=float)
        inked = np.abs(pixels - background).max(axis=2) > 40  # pixels that are clearly not the background
        assert pixels.std() > 10, (page.name, pixels.std())
        # the body, between the subtitle and the footer: a page with only its header and footer inks none of
        # it, the real pages 4 % or more
        body = inked[int(0.28 * len(inked)):int(0.90 * len(inked))]
        assert body.mean() > 0.01, (page.name, body.mean())
    pdf = (folder / "carousel.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page\b", pdf)) == len(pages)


def test_papermill_notebook_in_french(groove, small_catalogue, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "papermill", "--cwd", str(SLIDES), "-p", "input_path", str(groove),
               "-p", "lang", "fr", "-p", "out_dir", str(out), "-p", "catalogue", str(small_catalogue),
               "-p", "per_style", "1", str(SLIDES / "carousel.ipynb"), str(tmp_path / "executed.ipynb")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    check_deck(out / "fr", "light")
    pages = len(list((out / "fr").glob("page-*.png")))
    assert f"{pages} pages and carousel.pdf" in (tmp_path / "executed.ipynb").read_text()


def test_build_carousel_in_english_dark(groove, small_catalogue, tmp_path):
    paths = build_carousel(groove, tmp_path / "en", lang="en", theme="dark", catalogue=small_catalogue)
    assert paths == sorted((tmp_path / "en").glob("page-*.png"))
    check_deck(tmp_path / "en", "dark")


def test_unknown_language_is_refused_before_any_work(groove, tmp_path):
    with pytest.raises(ValueError, match="unknown language"):
        build_carousel(groove, tmp_path / "de", lang="de", catalogue=tmp_path / "no-catalogue")
    assert not (tmp_path / "de").exists() and not (tmp_path / "no-catalogue").exists()
