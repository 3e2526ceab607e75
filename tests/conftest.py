"Shared helpers: every test writes its own audio."
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from pathlib import Path

SAMPLE = Path(__file__).parent.parent / "data" / "sample.wav"


def chord(seconds: float = 3.0, sr: int = 44_100, channels: int = 1) -> np.ndarray:
    "An A minor triad, (frames, channels) float32."
    t = np.arange(int(seconds * sr)) / sr
    mono = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.6, 329.6)) / 4
    return np.repeat(mono[:, None], channels, axis=1).astype(np.float32)


@pytest.fixture
def write(tmp_path):
    "write(name, data, sr, format=None, subtype=None) -> path of a file written with soundfile."
    def _write(name, data, sr=44_100, format=None, subtype=None):
        path = tmp_path / name
        sf.write(path, data, sr, format=format, subtype=subtype)
        return path
    return _write
