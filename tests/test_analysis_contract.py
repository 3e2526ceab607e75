"The analysis JSON keeps Spotify's audio-feature names and gives swing as a drum machine sets it."
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from beat_selection.beats import STYLES, BeatSpec, generate_beat
from beat_selection.features import FEATURE_NAMES, analyze, feature_vector, swing_long_short

SPOTIFY_FIELDS = ("tempo", "key", "mode", "time_signature", "energy", "danceability", "loudness")
SPOTIFY_CONFIDENCES = ("tempo_confidence", "key_confidence", "time_signature_confidence")


@pytest.fixture(scope="module")
def shuffle():
    "A rock shuffle: straight-written 8th hats swung to 64 % at 120 BPM, 16 s."
    style = dataclasses.replace(STYLES["rock"], grooves=({"kick": "X-------X-x-----", "snare": "----X-------X---",
                                                          "hat": "x-x-x-x-x-x-x-x-"},),
                                swing=(0.64, 0.64), swing_eighths=True, ghost_rate=0.0)
    return generate_beat(BeatSpec("shuffle", bpm=120.0, seconds=16.0), 11, styles={"shuffle": style}).audio


def test_spotify_names_and_new_fields(shuffle):
    a = analyze(shuffle)
    d = a.to_dict()
    assert all(name in d for name in SPOTIFY_FIELDS + SPOTIFY_CONFIDENCES)
    assert 50 <= d["swing"] <= 75 and d["swing_unit"] in (8, 16) and 0 <= d["swing_confidence"] <= 1
    assert 0 <= d["downbeat"] < d["duration"]
    assert any(abs(d["downbeat"] - t) < 1e-9 for t in d["beat_times"])  # the bar line is a tracked beat


def test_shuffle_reads_swung_eighths_in_four(shuffle):
    a = analyze(shuffle)
    assert abs(a.tempo / 120 - 1) < 0.04
    assert a.time_signature == 4
    assert a.swing_unit == 8 and abs(a.swing - 64) < 4


def test_feature_vector_keeps_the_ratio(shuffle):
    a = analyze(shuffle)
    v = feature_vector(a)
    assert v[FEATURE_NAMES.index("swing")] == pytest.approx(swing_long_short(a.swing) - 1, abs=1e-6)
    straight = dataclasses.replace(a, swing=50.0)
    assert feature_vector(straight)[FEATURE_NAMES.index("swing")] == pytest.approx(0.0, abs=1e-9)
    assert np.isfinite(v).all()
