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


def test_recommend_out_writes_the_beats_conformed_mixed_and_as_midi(small_catalogue, tmp_path):
    "`--out`: for each match, its audition (WAV), the track with it under it (WAV) and its MIDI, and nothing else."
    import mido
    import soundfile as sf
    beats, out = tmp_path / "catalogue", tmp_path / "beats"
    shutil.copytree(small_catalogue, beats)
    done = run("recommend", str(SAMPLE), "--top", "3", "--out", str(out), "--bars", "2", "--catalogue", str(beats), "--json")
    assert done.returncode == 0, done.stderr
    matches = json.loads(done.stdout)["matches"]  # stdout stays the answer
    assert len(matches) == 3
    written = sorted(p.name for p in out.iterdir())
    expected = []
    for rank, match in enumerate(matches, 1):
        stem = f"{rank:02d}-{match['id']}-at-{match['play_at_bpm']:g}bpm-{match['play_in_key'].replace(' ', '-')}"
        if match["source"] == "user" and shutil.which("rubberband") is None:
            assert f"{match['id']}: not conformed" in done.stderr
            continue
        expected += [f"{stem}.wav", f"{stem}-mix.wav"] + ([f"{stem}.mid"] if match["source"] != "user" else [])
        beat = sf.info(out / f"{stem}.wav")
        assert beat.duration == pytest.approx(2 * 4 * 60 / match["play_at_bpm"], abs=0.05)
        assert sf.info(out / f"{stem}-mix.wav").duration == pytest.approx(sf.info(SAMPLE).duration, abs=0.05)
        if match["source"] != "user":
            song = mido.MidiFile(out / f"{stem}.mid")
            tempo = next(m.tempo for m in song.tracks[0] if m.type == "set_tempo")
            assert mido.tempo2bpm(tempo) == pytest.approx(match["play_at_bpm"], rel=1e-4)
    assert written == sorted(expected)
    assert done.stderr.count("wrote ") == len(expected)


def test_recommend_out_with_a_beat_added_as_audio(small_catalogue, tmp_path):
    "A user's beat is stretched (Rubber Band) and has no MIDI; without Rubber Band it is skipped, saying why."
    beats, out = tmp_path / "catalogue", tmp_path / "beats"
    shutil.copytree(small_catalogue, beats)
    assert run("catalogue", "add", str(SAMPLE), "--name", "mine", "--style", "afro", "--catalogue", str(beats)).returncode == 0
    done = run("recommend", str(SAMPLE), "--top", "1", "--style", "afro", "--out", str(out), "--bars", "2",
               "--catalogue", str(beats), "--json")
    assert done.returncode == 0, done.stderr
    (match,) = json.loads(done.stdout)["matches"]
    assert match["source"] == "user" and match["midi_url"] is None  # the sample's own copy comes first
    names = sorted(p.suffix for p in out.iterdir())
    if shutil.which("rubberband") is None:
        assert names == [] and "rubberband-cli" in done.stderr
    else:
        assert names == [".wav", ".wav"], names


@pytest.mark.parametrize("bars", ["0", "65"])
def test_recommend_out_refuses_bad_bars(tmp_path, bars):
    done = run("recommend", str(SAMPLE), "--out", str(tmp_path / "x"), "--bars", bars)
    assert done.returncode == 2 and "--bars" in done.stderr and not (tmp_path / "x").exists()
