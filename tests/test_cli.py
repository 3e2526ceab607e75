"The installed beat-select command, run as a user would."
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).parent.parent / "data" / "sample.wav"


def run(*args):
    exe = shutil.which("beat-select") or str(Path(sys.executable).parent / "beat-select")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)


def test_analyze_table():
    out = run("analyze", str(SAMPLE))
    assert out.returncode == 0, out.stderr
    assert "BPM" in out.stdout and "LUFS" in out.stdout


def test_analyze_json():
    out = run("analyze", str(SAMPLE), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"tempo", "tempo_confidence", "key", "mode", "camelot", "energy", "danceability", "loudness",
            "time_signature", "rhythm_grid"} <= set(data)


@pytest.mark.parametrize("content,code", [(b"", 3), (b"not audio at all" * 100, 3)])
def test_bad_input_one_line_error(tmp_path, content, code):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    out = run("analyze", str(bad))
    assert out.returncode == code
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_missing_file_and_directory(tmp_path):
    for target in ("does/not/exist.wav", str(tmp_path)):
        out = run("analyze", target)
        assert out.returncode == 1 and "Traceback" not in out.stderr


def test_closed_pipe_is_quiet():
    exe = shutil.which("beat-select") or str(Path(sys.executable).parent / "beat-select")
    out = subprocess.run(f"'{exe}' analyze '{SAMPLE}' --json | head -1", shell=True, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "{" and "Traceback" not in out.stderr
