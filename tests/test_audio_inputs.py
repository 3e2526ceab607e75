"Every kind of bad input gets its typed error and status; every good format decodes."
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from beat_selection import audio as audio_mod
from beat_selection.audio import (AudioLimits, CorruptAudioError, EmptyAudioError, FFmpegMissingError,
                                  SilentAudioError, TooLongError, TooShortError, UnsupportedAudioParametersError,
                                  UnsupportedFormatError, load_audio)
from conftest import chord


@pytest.mark.parametrize("name,fmt,subtype", [("a.wav", "WAV", "PCM_16"), ("a.flac", "FLAC", None),
                                              ("a.ogg", "OGG", "VORBIS"), ("a.mp3", "MP3", "MPEG_LAYER_III"),
                                              ("a.aiff", "AIFF", None), ("a.opus", "OGG", "OPUS")])
def test_formats_decode_to_mono_22k(write, name, fmt, subtype):
    sr = 48_000 if subtype == "OPUS" else 44_100
    a = load_audio(write(name, chord(sr=sr), sr, fmt, subtype))
    assert a.sr == 22_050 and a.samples.ndim == 1 and a.samples.dtype == np.float32
    assert abs(a.duration - 3.0) < 0.1


def test_extension_that_lies(write, tmp_path):
    wav = write("real.wav", chord())
    liar = tmp_path / "song.mp3"
    liar.write_bytes(wav.read_bytes())
    assert load_audio(liar).format == "wav"


def test_zero_byte_file(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.touch()
    with pytest.raises(EmptyAudioError) as e: load_audio(empty)
    assert e.value.status == 422


def test_truncated_wav_header(write, tmp_path):
    cut = tmp_path / "cut.wav"
    cut.write_bytes(write("whole.wav", chord()).read_bytes()[:30])
    with pytest.raises(CorruptAudioError) as e: load_audio(cut)
    assert e.value.status == 422


def test_random_bytes(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(np.random.default_rng(1).bytes(100_000))
    with pytest.raises(UnsupportedFormatError) as e: load_audio(junk)
    assert e.value.status == 415


def test_six_channels_at_96k(write):
    a = load_audio(write("surround.wav", chord(sr=96_000, channels=6), 96_000, "WAV", "PCM_24"))
    assert (a.source_channels, a.source_sr, a.sr) == (6, 96_000, 22_050)


def test_all_zero_file(write):
    with pytest.raises(SilentAudioError) as e: load_audio(write("zeros.wav", np.zeros((44_100 * 4, 2), np.float32)))
    assert e.value.code == "silent_audio"


def test_too_short(write):
    with pytest.raises(TooShortError): load_audio(write("blip.wav", chord(seconds=1.0)))


def test_too_long_is_refused_from_the_header(write):
    path = write("long.wav", np.full((8_000 * 700, 1), 0.1, np.float32), 8_000, "WAV", "PCM_16")
    with pytest.raises(TooLongError) as e: load_audio(path)
    assert e.value.status == 413


def test_sample_rate_out_of_range(write):
    with pytest.raises(UnsupportedAudioParametersError) as e: load_audio(write("low.wav", chord(sr=4_000), 4_000))
    assert e.value.status == 415


def test_too_many_channels(write):
    path = write("many.wav", chord(channels=40, seconds=2.5), 44_100, "WAV", "PCM_16")
    with pytest.raises(UnsupportedAudioParametersError): load_audio(path)


def test_nan_samples(write):
    data = chord(); data[5000] = np.nan
    with pytest.raises(CorruptAudioError): load_audio(write("nan.wav", data, 44_100, "WAV", "FLOAT"))


def test_custom_limits(write):
    path = write("short.wav", chord(seconds=1.0))
    assert load_audio(path, limits=AudioLimits(min_seconds=0.5)).duration == pytest.approx(1.0, abs=0.01)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_m4a_through_ffmpeg(write, tmp_path):
    m4a = tmp_path / "voice.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(write("v.wav", chord())), "-c:a", "aac", str(m4a)], check=True)
    a = load_audio(m4a)
    assert a.format == "mp4" and abs(a.duration - 3.0) < 0.1


def test_missing_ffmpeg_is_named(monkeypatch, tmp_path):
    monkeypatch.setattr(audio_mod.shutil, "which", lambda _: None)
    fake = tmp_path / "voice.m4a"
    fake.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(100))
    with pytest.raises(FFmpegMissingError, match="ffmpeg") as e: load_audio(fake)
    assert e.value.status == 415


def test_file_object_and_bytes_agree(write):
    path = write("a.flac", chord(), 44_100, "FLAC")
    with open(path, "rb") as f: from_file = load_audio(f)
    np.testing.assert_array_equal(from_file.samples, load_audio(path.read_bytes()).samples)


def test_missing_path():
    with pytest.raises(FileNotFoundError): load_audio("/no/such/file.wav")


# --- headers that lie, samples that cannot be, sizes judged before decoding ----------------------------------

import io

import soundfile as sf

from beat_selection.audio import AudioError


def encoded(data: np.ndarray, sr: int, format: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, data, sr, format=format, subtype=subtype)
    return buffer.getvalue()


def outcome(source, **kw):
    "What `load_audio` makes of `source`: ('ok', the samples' bytes) or (the error code, its message)."
    try:
        return "ok", load_audio(source, **kw).samples.tobytes()
    except AudioError as e:
        return e.code, str(e)


def test_truncated_mp3_gives_only_the_frames_that_are_there():
    cut = encoded(chord(seconds=4.0), 44_100, "MP3", "MPEG_LAYER_III")[:1_500]
    assert sf.info(io.BytesIO(cut)).frames == 176_400  # the header still promises 4 s
    lenient = AudioLimits(min_seconds=0.01)
    decoded = [load_audio(cut, limits=lenient) for _ in range(5)]
    assert all(a.duration < 0.5 for a in decoded), [a.duration for a in decoded]
    assert len({a.samples.tobytes() for a in decoded}) == 1  # the same samples every time
    assert {outcome(cut)[0] for _ in range(5)} == {"too_short"}


def test_huge_finite_float_samples_are_refused():
    huge = chord(); huge[1000] = 1e38
    with pytest.raises(CorruptAudioError) as e: load_audio(encoded(huge, 44_100, "WAV", "FLOAT"))
    assert e.value.status == 422 and "1e+38" not in str(e.value)
    loud = chord() * 8  # past full scale, as a float file may be: still accepted
    assert load_audio(encoded(loud, 44_100, "WAV", "FLOAT")).peak_dbfs > 10


class CountingReader(io.BytesIO):
    "A file object that counts the bytes read from it."
    bytes_read = 0

    def read(self, n=-1):
        chunk = super().read(n)
        self.bytes_read += len(chunk)
        return chunk


def flac_claiming(seconds: float, sr: int = 384_000, channels: int = 8) -> bytes:
    "A FLAC of 0.1 s of silence whose STREAMINFO claims `seconds` (a zip bomb's header, without the bomb)."
    buffer = io.BytesIO()
    with sf.SoundFile(buffer, "w", sr, channels, format="FLAC", subtype="PCM_16") as w:
        w.write(np.zeros((sr // 10, channels), np.int16))
    data = bytearray(buffer.getvalue())
    fields = int.from_bytes(data[18:26], "big")  # rate (20 bits), channels (3), bits (5), total samples (36)
    data[18:26] = ((fields & ~((1 << 36) - 1)) | int(seconds * sr)).to_bytes(8, "big")
    return bytes(data)


def test_decoded_size_is_judged_from_the_header_before_decoding():
    lying = flac_claiming(590)  # 8 channels at 384 kHz for 590 s: 1.8 billion samples
    assert sf.info(io.BytesIO(lying)).frames == 590 * 384_000
    reader = CountingReader(lying)
    with pytest.raises(AudioError) as e: load_audio(reader)
    assert (e.value.status, e.value.code) == (413, "too_much_audio")
    assert reader.bytes_read <= len(lying) and "384" not in str(e.value)


def test_decoded_size_limit_is_a_setting_and_counted_while_decoding():
    six = encoded(chord(sr=96_000, channels=6), 96_000, "FLAC")  # 3 s x 6 x 96 kHz = 1.7 M samples
    assert load_audio(six).source_channels == 6
    with pytest.raises(AudioError) as e: load_audio(six, limits=AudioLimits(max_decoded_samples=1_000_000))
    assert e.value.code == "too_much_audio"


def test_damaged_mp3s_get_an_audio_error_and_the_same_answer_twice():
    whole = bytearray(encoded(chord(seconds=3.0), 44_100, "MP3", "MPEG_LAYER_III"))
    rng = np.random.default_rng(3)
    for _ in range(40):
        damaged = bytearray(whole)
        for at in rng.integers(0, len(damaged), 20):
            damaged[at] = rng.integers(0, 256)
        damaged = bytes(damaged[:rng.integers(200, len(damaged))])
        first = outcome(damaged)  # anything but an AudioError fails the test
        assert outcome(damaged) == first
