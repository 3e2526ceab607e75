"analyze gives finite, JSON-clean answers on audio with no beat, no key, or almost nothing in it."
from __future__ import annotations

import json

import numpy as np
import pytest

from beat_selection.features import FEATURE_NAMES, analyze, feature_vector

SR = 22_050


def _noise(seconds, seed=0):
    return (np.random.default_rng(seed).standard_normal(int(seconds * SR)) * 0.1).astype(np.float32)


def _sine(seconds, hz=440.0):
    return (0.3 * np.sin(2 * np.pi * hz * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


@pytest.mark.parametrize("signal", [_noise(10), _sine(10), _sine(2.1), _noise(3) * 1e-3,
                                    np.concatenate([_sine(4), np.zeros(SR * 6, np.float32)])],
                         ids=["white-noise", "steady-sine", "just-over-2s", "very-quiet", "sine-then-silence"])
def test_odd_audio_gives_clean_json(signal):
    a = analyze(signal)
    d = a.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert 50 <= a.tempo <= 220 and 0 <= a.tempo_confidence <= 1
    assert a.time_signature in (3, 4) and a.mode in (0, 1) and 0 <= a.key <= 11
    assert 0 <= a.energy <= 1 and 0 <= a.danceability <= 1
    v = feature_vector(a)
    assert v.shape == (len(FEATURE_NAMES),) and np.isfinite(v).all()


def test_steady_sine_has_its_pitch_as_strongest_chroma():
    assert np.argmax(analyze(_sine(6, 440.0)).chroma) == 9  # A


def test_louder_is_louder():
    quiet, loud = analyze(_noise(6) * 0.1), analyze(_noise(6))
    assert loud.loudness - quiet.loudness == pytest.approx(20.0, abs=0.5)
    assert loud.energy > quiet.energy


def test_arrays_pass_the_same_gate_as_files():
    from beat_selection.audio import CorruptAudioError, SilentAudioError, TooShortError
    stereo = np.stack([_sine(4), _sine(4, 330.0)], axis=1)
    assert analyze(stereo).duration == pytest.approx(4.0, abs=0.01)
    for bad, error in [(np.full(SR * 3, np.nan, np.float32), CorruptAudioError),
                       (np.zeros(SR * 3, np.float32), SilentAudioError), (_sine(0.5), TooShortError)]:
        with pytest.raises(error): analyze(bad)
