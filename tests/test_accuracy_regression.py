"A small accuracy floor on generated grooves: a change that breaks tempo or key estimation fails here."
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
from grooves import groove_set  # noqa: E402

from beat_selection.features import PITCH_CLASSES, analyze  # noqa: E402

@pytest.fixture(scope="module")
def clips():
    "One groove per style; seed 3 is used by neither the tempo-level training (seed 0), the benchmark (seed 1), nor the style model."
    return list(groove_set(1, 20.0, seed=3, parts=("drums", "harmony")))


def test_tempo_of_one_drum_groove_per_style(clips):
    drums = [c for c in clips if c.parts == "drums"]
    hits = [abs(analyze(c.audio).tempo / c.bpm - 1) <= 0.04 for c in drums]
    assert sum(hits) >= len(drums) - 1, [(c.style, c.bpm) for c, ok in zip(drums, hits) if not ok]


def test_key_of_one_harmony_stem_per_style(clips):
    harmony = [c for c in clips if c.parts == "harmony"]
    exact = [analyze(c.audio).key_name == f"{PITCH_CLASSES[c.tonic]} {c.mode}" for c in harmony]
    assert sum(exact) >= 7, f"{sum(exact)} of {len(harmony)} keys exact"


@pytest.mark.parametrize("style", ["trap", "rnb"])
def test_octave_hard_cases(clips, style):
    "A half-time trap beat at 130-160 and a slow R&B groove under 80 are read at their annotated tempo."
    clip = next(c for c in clips if c.style == style and c.parts == "drums")
    assert analyze(clip.audio).tempo == pytest.approx(clip.bpm, rel=0.04)
