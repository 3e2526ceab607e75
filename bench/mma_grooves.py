"""Drum grooves programmed by third parties (Debian's MMA groove library), rendered on held-out kits.

An independent test of the style model: none of these patterns comes from this project. MMA ("Musical MIDI
Accompaniment", Bob van der Poel and contributors, GPL-2+) ships ~2 000 ``DefGroove`` definitions in ~280
library files under /usr/share/mma/lib/{stdlib,zoom,casio,yamaha,kara,pflib,alexis}, most of them
transcribed from arranger keyboards and drum machines. They are quantised (some with MMA's small random
timing/velocity jitter), not human performances; the Groove MIDI Dataset, which would be, cannot be
downloaded on this machine.

Setup (nothing is installed by this script)::

    apt-get install mma          # the `mma` command and its groove library
    pip install mido             # the `bench` extra: reads the MIDI files mma writes

How a clip is made
------------------
1. Each library file whose name maps to a style (`FILE_STYLES`, below) is read for its ``DefGroove`` names;
   intros, endings, fills and breaks are skipped.
2. A small song (``RndSeed 1``, ``Use <file>``, ``Tempo T``, ``Groove NAME``, a I-vi-IV-V progression
   in C, long enough for the clip) is compiled by ``mma`` to a MIDI file.
3. The drum channel (10) is read with mido and mapped to the generator's voices (`GM_VOICES`); grooves
   not in 4/4, with too few drum hits, or playing the same drum pattern as a groove already kept (MMA's
   ``Sus``/``Plus`` variants only add instruments) are dropped.
4. At most `cap` grooves per style are kept, taken round-robin over the style's files (so one 23-groove
   file cannot fill a style alone) in a fixed pseudo-random order (CRC-32 of the name).
5. Each kept groove is rendered with `beat_selection.beats.render_drums` through every acoustic kit of
   `HELD_OUT_KITS` (kits the style model never trained on) at 22 050 Hz, `seconds` long, starting at a
   groove-dependent phase inside a bar (as the training clips do), peak-normalised, no effects. The
   ``style`` argument of `render_drums` is left empty so that the label cannot change the sound.
   Optionally the "full" part adds MMA's own accompaniment (bass, chords, ...) played by the FluidR3 GM
   SoundFont with MMA's programs and channel volumes, mixed 3 dB under the drums (RMS); only for grooves
   that have one (Zoom's files are drum-machine patterns only).

Tempo: a ``Tempo`` line in the library file, else a tempo its documentation recommends (``tempo 100 -
125``, ``120 to 150 bpm``, ``around 80 bpm``: the midpoint), else the midpoint of the mapped style's range
in `beat_selection.beats.STYLES` (lower or upper quarter for names with "slow"/"ballad" or "fast"), except
for the files in `TEMPO_FACTOR`, written in 4 but meant to be played at double tempo, and `TEMPO_FIXED`.

File -> style mapping
---------------------
Only unambiguous names are mapped (`FILE_STYLES`); everything else (ballads, blues, country, waltzes and
other non-4/4 metres, marches, polkas, dance/techno/trance, fusion, shuffles, generic "16 beat", "disco
soul", "soul pop", trip-hop, calypso, tango, bolero, beguine, ...) is not used. Decisions worth stating:

* pop, 8-beat (the arranger-keyboard name of the straight-eighths pop/rock beat), punk, metal, hard rock,
  50s rock'n'roll, folk/soft rock and rock ballads (incl. 12/8) -> rock, as the taxonomy maps rock/pop/punk.
* soul, Motown, R&B (incl. the 12/8 R&B ballad, which the generator's rnb style also plays) -> rnb.
* bossa nova, samba, salsa, mambo, son, cha-cha, rhumba, merengue, afro-cuban -> latin.
* swing, bebop, big band, jazz combo/trio/guitar, Dixieland, gypsy jazz -> jazz; jazz waltzes are 3/4
  and skipped, "jazz rock", "jazz rhumba", "folky jazz" and "jazz country" are ambiguous and skipped.
* hip-hop -> boom-bap; house -> house ("latin house", "dance", "techno" skipped); Zoom's "AFRO" drum-
  machine patterns (kick, side stick, congas, hats) -> afro.
* ska is NOT mapped to reggae: its fast backbeat/shuffle drumming is none of the one-drop, steppers or
  rockers patterns that define the reggae style here, so a miss would measure the taxonomy, not the
  model. Boney M. ("started as a generic disco pattern, didn't quite work out", says its author) and
  "disco soul" are not mapped to house either.
* MMA has no trap, drill, reggaeton, amapiano or lo-fi grooves: those styles are not measured here.

    python bench/mma_grooves.py [--cap 12] [--seconds 20] [--list]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile

from beat_selection.beats import (HELD_OUT_KITS, KIT_FAMILIES, SOUNDFONT_PATHS, STYLES, DrumHit, cache_dir,
                                  kit_available, render_drums)

MMA_LIB = Path("/usr/share/mma/lib")
CACHE_VERSION = 3  # bump when the selection or rendering rules change: it names the cache folder
SR = 22050
ACOUSTIC_HELD_OUT_KITS: tuple[str, ...] = tuple(k for k in HELD_OUT_KITS if k in KIT_FAMILIES["acoustic"])
PARTS = ("drums", "full")

# library file (relative to MMA_LIB, without .mma) -> style id; see the module docstring for the reasons.
FILE_STYLES: dict[str, str] = {
    **dict.fromkeys([
        "casio/60spop", "casio/60srock", "casio/80spop", "casio/8beat1", "casio/8beat2", "casio/8beat3",
        "casio/8beatpop1", "casio/8beatpop2", "casio/8beatpop3", "casio/digitalrock", "casio/heavymetal",
        "casio/pop", "casio/poprock1", "casio/poprock2", "casio/rock1", "casio/rock2", "kara/K50s_rock",
        "pflib/8beat1", "pflib/8beat2", "pflib/metal1", "pflib/metal2", "pflib/rock1", "stdlib/50srock",
        "stdlib/60srock", "stdlib/8beat", "stdlib/basicrock", "stdlib/bubblerock", "stdlib/folkrock",
        "stdlib/rock-128", "stdlib/rockballad", "stdlib/softrock", "stdlib/strut", "zoom/beat8", "zoom/hrk",
        "zoom/mtl", "zoom/pop", "zoom/punk", "zoom/rock"], "rock"),
    **dict.fromkeys(["casio/funk1", "casio/funk2", "kara/Kfunk1", "stdlib/bvfunk", "zoom/funk"], "funk"),
    **dict.fromkeys([
        "kara/kbossa", "stdlib/afro-cuban", "stdlib/bossanova", "stdlib/chacha", "stdlib/cubanguitar",
        "stdlib/mambo", "stdlib/merengue", "stdlib/rhumba", "stdlib/salsa", "stdlib/samba", "stdlib/son",
        "yamaha/jazzbossa", "yamaha/mambo", "yamaha/salsa1", "yamaha/salsa2", "zoom/bossa", "zoom/latin",
        "zoom/samba"], "latin"),
    **dict.fromkeys([
        "casio/fastbigband", "casio/jazzcombo", "casio/middlebigband", "casio/modernjazz", "casio/slowbigband",
        "casio/slowswing", "casio/swing", "stdlib/bebop", "stdlib/bigband", "stdlib/descendingjazz",
        "stdlib/dixie", "stdlib/easyswing", "stdlib/evansish", "stdlib/fastswing", "stdlib/gypsyjazz",
        "stdlib/jazzcombo", "stdlib/jazzguitar", "stdlib/mellowjazz", "stdlib/modernjazz", "stdlib/nitejazz",
        "stdlib/slowjazz", "stdlib/swing", "yamaha/jazzGrtrio", "yamaha/jazzbasie", "yamaha/jazzbouncy",
        "yamaha/jazzswing", "yamaha/jazztrio", "zoom/jazz", "zoom/jazz04"], "jazz"),
    **dict.fromkeys([
        "casio/60ssoul", "casio/mellowrb", "casio/modernrb", "casio/r+b", "casio/soul", "kara/8beatmotown",
        "stdlib/rb", "stdlib/rb-ballad", "zoom/rnb"], "rnb"),
    **dict.fromkeys(["alexis/hiphop", "casio/hip-hop", "zoom/hiphop"], "boom-bap"),
    **dict.fromkeys(["casio/house", "zoom/house"], "house"),
    "zoom/reggae": "reggae",
    "zoom/afro": "afro",
}
# Written in 4 but, says their documentation, to be played at double tempo: x the style's midpoint.
TEMPO_FACTOR: dict[str, float] = {"stdlib/samba": 2.0, "stdlib/merengue": 2.0}
# 12/8 doo-wop rock written in 4 with triplets: its documentation counts dotted quarters, as the generator's
# 12/8 R&B ballads do; a slow-ballad tempo rather than the rock midpoint.
TEMPO_FIXED: dict[str, float] = {"stdlib/rock-128": 80.0}

# General MIDI drum note -> generator voice (inverse of GM_DRUM_KEYS plus the nearest voice for other notes).
# Dropped: 58 vibraslap, 71/72 whistles, 73/74 guiro, 78/79 cuica, 80/81 triangle (no similar voice).
GM_VOICES: dict[int, str] = {
    35: "kick", 36: "kick", 37: "rim", 38: "snare", 40: "snare", 39: "clap",
    42: "hat", 44: "hat", 46: "hat_open",
    49: "crash", 52: "crash", 55: "crash", 57: "crash", 51: "ride", 53: "ride", 59: "ride",
    41: "tom_lo", 43: "tom_lo", 45: "tom_lo", 47: "tom_hi", 48: "tom_hi", 50: "tom_hi",
    65: "tom_hi", 66: "tom_lo",  # timbales: stick-played shell drums, closest to toms
    56: "cowbell", 67: "cowbell", 68: "cowbell",  # agogo bells
    60: "conga_hi", 62: "conga_hi", 63: "conga_hi", 61: "conga_lo", 64: "conga_lo",  # bongos and congas
    54: "shaker", 69: "shaker", 70: "shaker", 82: "shaker",  # tambourine, cabasa, maracas, shaker
    75: "claves", 76: "claves", 77: "claves",  # claves, wood blocks
}
SKIP_GROOVE = re.compile(r"intro|end|fill|break", re.IGNORECASE)
SKIP_DESCRIPTION = re.compile(r"\b(intro|ending|fill|break)\b", re.IGNORECASE)
MIN_HITS_PER_BAR = 3  # fewer: a groove of accompaniment only (or a lone cymbal), not a drum pattern
PROGRESSION = ("C", "Am", "F", "G")


@dataclass(frozen=True)
class Groove:
    "One MMA groove chosen for the benchmark."

    file: str  # library file relative to MMA_LIB, without .mma
    name: str  # the DefGroove name
    style: str  # our style id
    tempo: float  # quarter notes per minute given to mma
    accompanied: bool = True  # plays pitched instruments besides the drums (Zoom's drum-machine files do not)

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "_", f"{self.file}_{self.name}_{self.tempo:g}")


@dataclass(frozen=True, eq=False)  # eq=False: comparing ndarrays field-wise is ambiguous
class MmaClip:
    "One rendered clip and its label."

    groove: Groove
    kit: str
    part: str  # "drums" | "full"
    audio: np.ndarray  # float32 mono at SR, peak 0.9

    @property
    def style(self) -> str:
        return self.groove.style

    @property
    def name(self) -> str:
        return f"{self.groove.slug}-{self.kit.replace(':', '_').replace(' ', '_')}-{self.part}"


def mma_available() -> bool:
    return shutil.which("mma") is not None and MMA_LIB.is_dir()


def _stable(text: str) -> int:
    return zlib.crc32(text.encode())


# ------------------------------------------------------------------------------------------------ library

def groove_names(path: Path) -> list[str]:
    "Main grooves defined in a library file (intros, endings, fills and breaks left out)."
    text = path.read_text(errors="replace")
    found = re.findall(r"^\s*defgroove\s+(\S+)(.*)$", text, flags=re.IGNORECASE | re.MULTILINE)
    # pflib names its fills and endings only in the description ("rock1FA  Rock 1, Section A Fill-in")
    names = [n for n, about in found if not (SKIP_GROOVE.search(n) or SKIP_DESCRIPTION.search(about))]
    return list(dict.fromkeys(names))


def _doc_tempo(text: str) -> float | None:
    "Tempo a library file sets or recommends, if it states one plainly."
    if match := re.search(r"^\s*tempo\s+(\d{2,3})\s*$", text, flags=re.IGNORECASE | re.MULTILINE):
        return float(match[1])
    for line in text.lower().splitlines():
        if "bpm" not in line and "tempo" not in line:
            continue
        if match := re.search(r"(\d{2,3})\s*(?:-|to)\s*(\d{2,3})", line):
            return (float(match[1]) + float(match[2])) / 2
        if match := re.search(r"around\s+(\d{2,3})", line) or re.search(r"(\d{2,3})\s*bpm", line):
            return float(match[1])
    return None


def groove_tempo(file: str, name: str, style: str) -> float:
    "The tempo a groove is rendered at (see the module docstring)."
    if file in TEMPO_FIXED:
        return TEMPO_FIXED[file]
    declared = _doc_tempo((MMA_LIB / f"{file}.mma").read_text(errors="replace"))
    if declared is not None and 40 <= declared <= 260:
        return declared
    low, high = STYLES[style].tempo
    words = f"{file} {name}".lower()
    position = 0.25 if ("slow" in words or "ballad" in words) else 0.75 if "fast" in words else 0.5
    return round((low + position * (high - low)) * TEMPO_FACTOR.get(file, 1.0), 1)


def candidate_grooves() -> list[Groove]:
    "Every main groove of every mapped library file present on this machine."
    out = []
    for file, style in sorted(FILE_STYLES.items()):
        path = MMA_LIB / f"{file}.mma"
        if path.is_file():
            out += [Groove(file, name, style, groove_tempo(file, name, style)) for name in groove_names(path)]
    return out


# ------------------------------------------------------------------------------------------------ MIDI

def _bars_needed(tempo: float, seconds: float) -> int:
    return int(np.ceil(seconds / (4 * 60 / tempo))) + 2  # one bar of phase offset and one of spare


def render_midi(groove: Groove, bars: int, out: Path) -> Path:
    "Compile a small song playing `groove` for `bars` bars to a MIDI file with the `mma` command."
    if out.is_file():
        return out
    song = [f"// {groove.file}: {groove.name}", "RndSeed 1", f"Use {MMA_LIB / groove.file}",
            f"Tempo {groove.tempo:g}", f"Groove {groove.name}"]
    song += [f"{bar + 1} {PROGRESSION[bar % len(PROGRESSION)]}" for bar in range(bars)]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "song.mma"
        source.write_text("\n".join(song) + "\n")
        result = subprocess.run(["mma", "-w", str(source), "-f", str(Path(tmp) / "song.mid")],
                                capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0 or not (Path(tmp) / "song.mid").is_file():
            raise RuntimeError(f"mma failed on {groove.file}:{groove.name}: {result.stdout[-500:]}")
        shutil.move(str(Path(tmp) / "song.mid"), out)
    return out


@dataclass(frozen=True)
class MidiContent:
    "What the benchmark needs of one MMA MIDI file."

    drums: tuple[tuple[float, int, int], ...]  # (seconds, GM note, velocity) on channel 10
    events: tuple[tuple[float, str, int, int, int], ...]  # (seconds, kind, channel, a, b) of other channels
    time_signature: tuple[int, int]
    seconds_per_beat: float


def read_midi(path: Path) -> MidiContent:
    "Drum hits, the pitched channels' events and the metre of a MIDI file (times in seconds)."
    import mido

    midi = mido.MidiFile(path)
    now, drums, events, signature, tempo = 0.0, [], [], (4, 4), 500000
    for message in midi:  # merged tracks in playback order; .time is seconds since the previous message
        now += message.time
        if message.type == "time_signature":
            signature = (message.numerator, message.denominator)
        elif message.type == "set_tempo":
            tempo = message.tempo
        elif message.type in ("note_on", "note_off") and message.channel == 9:
            if message.type == "note_on" and message.velocity > 0:
                drums.append((now, message.note, message.velocity))
        elif message.type in ("note_on", "note_off"):
            velocity = message.velocity if message.type == "note_on" else 0
            events.append((now, "note", message.channel, message.note, velocity))
        elif message.type == "program_change":
            events.append((now, "program", message.channel, message.program, 0))
        elif message.type == "control_change":
            events.append((now, "control", message.channel, message.control, message.value))
        elif message.type == "pitchwheel":
            events.append((now, "bend", message.channel, message.pitch + 8192, 0))
    return MidiContent(tuple(drums), tuple(events), signature, tempo / 1e6)


def drum_hits(content: MidiContent, start: float, seconds: float) -> list[DrumHit]:
    "Channel-10 notes inside [start, start + seconds) as generator voices; velocities scaled so the loudest is 1."
    kept = [(t - start, GM_VOICES[note], velocity) for t, note, velocity in content.drums
            if note in GM_VOICES and start <= t < start + seconds]
    loudest = max((v for _, _, v in kept), default=127)  # MMA volumes are relative: keep them so
    return [DrumHit(t, voice, v / loudest) for t, voice, v in kept]


def same_drums(a: MidiContent, b: MidiContent, tolerance: float = 0.15) -> bool:
    """True when two grooves play the same drum part: every mapped hit of each has a hit of the same voice
    within `tolerance` beats in the other. Tolerant because MMA's random timing jitter (``RTime``, up to a
    few tens of ms) draws differently when a variant adds instruments (``Sus``, ``Plus``)."""
    def hits(c: MidiContent) -> dict[str, np.ndarray]:
        by_voice: dict[str, list[float]] = defaultdict(list)
        for t, note, _ in c.drums:
            if note in GM_VOICES:
                by_voice[GM_VOICES[note]].append(t / c.seconds_per_beat)
        return {v: np.sort(ts) for v, ts in by_voice.items()}

    def covered(x: dict[str, np.ndarray], y: dict[str, np.ndarray]) -> bool:
        if set(x) != set(y):
            return False
        matched = 0
        for voice, times in x.items():
            other = y[voice]
            right = np.clip(np.searchsorted(other, times), 0, len(other) - 1)
            nearest = np.minimum(np.abs(other[right] - times), np.abs(other[np.maximum(right - 1, 0)] - times))
            matched += int(np.sum(nearest <= tolerance))
        return matched >= 0.85 * sum(map(len, x.values()))  # MMA also drops hits at random (RSkip)

    ha, hb = hits(a), hits(b)
    return covered(ha, hb) and covered(hb, ha)


# ------------------------------------------------------------------------------------------------ selection

def _midi_path(groove: Groove, bars: int) -> Path:
    return cache_dir() / "mma" / f"v{CACHE_VERSION}" / "midi" / f"{groove.slug}_{bars}bars.mid"


def select_grooves(cap: int = 12, seconds: float = 20.0, progress: bool = True) -> list[Groove]:
    "At most `cap` distinct 4/4 drum grooves per style, deterministically (see the module docstring)."
    index = cache_dir() / "mma" / f"v{CACHE_VERSION}" / f"selection-cap{cap}-{seconds:g}s.json"
    if index.is_file():
        return [Groove(**g) for g in json.loads(index.read_text())]
    from tqdm.auto import tqdm

    by_file: dict[str, list[Groove]] = defaultdict(list)
    for groove in candidate_grooves():
        by_file[groove.file].append(groove)
    for grooves in by_file.values():
        grooves.sort(key=lambda g: _stable(g.name))
    chosen: dict[str, list[Groove]] = defaultdict(list)
    kept: dict[str, list[MidiContent]] = defaultdict(list)  # the drums of the chosen grooves, per style
    bar = tqdm(desc="compiling mma grooves", unit="groove", disable=not progress)
    for style in sorted(set(FILE_STYLES.values())):
        queues = [list(by_file[f]) for f in sorted(by_file, key=_stable) if FILE_STYLES[f] == style]
        while queues and len(chosen[style]) < cap:  # round-robin over the style's files
            queue = queues.pop(0)
            groove = queue.pop(0)
            bar.update()
            bars = _bars_needed(groove.tempo, seconds)
            content = read_midi(render_midi(groove, bars, _midi_path(groove, bars)))
            usable = (content.time_signature == (4, 4)
                      and sum(n in GM_VOICES for _, n, _ in content.drums) >= MIN_HITS_PER_BAR * bars)
            if usable and not any(same_drums(content, other) for other in kept[style]):
                kept[style].append(content)
                accompanied = any(kind == "note" for _, kind, *_ in content.events)
                chosen[style].append(Groove(groove.file, groove.name, style, groove.tempo, accompanied))
            if queue:
                queues.append(queue)
    bar.close()
    selection = [g for style in sorted(chosen) for g in chosen[style]]
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps([g.__dict__ for g in selection], indent=1) + "\n")
    return selection


# ------------------------------------------------------------------------------------------------ audio

@lru_cache(maxsize=1)
def _accompaniment_synth():
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=SR)
    path = next(p for p in SOUNDFONT_PATHS if Path(p).is_file())
    return synth, synth.sfload(path)


def render_accompaniment(content: MidiContent, start: float, n: int) -> np.ndarray:
    "MMA's pitched channels (programs, volumes, bends as written) on the GM SoundFont, from `start`."
    synth, sfid = _accompaniment_synth()
    synth.sounds_off()  # silence what the previous clip left ringing
    for channel in range(16):  # a clean state: volume and expression at their defaults
        synth.control_change(channel, 121, 0)
    total = round(start * SR) + n
    out, position = np.zeros(2 * total, dtype=np.float32), 0
    for time, kind, channel, a, b in sorted(content.events, key=lambda e: (e[0], e[1] != "program")) + [
            (total / SR, "stop", 0, 0, 0)]:
        frame = min(max(round(time * SR), position), total)
        if frame > position:
            out[2 * position: 2 * frame] = np.frombuffer(synth.generate(frame - position), dtype=np.float32)
            position = frame
        if kind == "program":
            try:
                synth.program_select(channel, sfid, 0, a)
            except RuntimeError:  # a preset FluidR3 lacks: the piano
                synth.program_select(channel, sfid, 0, 0)
        elif kind == "note":
            synth.noteon(channel, a, b) if b > 0 else synth.noteoff(channel, a)
        elif kind == "control":
            synth.control_change(channel, a, b)
        elif kind == "bend":
            synth.pitchbend(channel, a)
    synth.notes_off()
    mono = out.reshape(-1, 2).mean(axis=1)[-n:]
    return mono.astype(np.float64)


def _normalise(x: np.ndarray) -> np.ndarray:
    return (0.9 * x / (np.abs(x).max() + 1e-12)).astype(np.float32)


def render_clip(groove: Groove, kit: str, part: str, seconds: float = 20.0) -> MmaClip:
    "Render one groove on one kit (cached as 16-bit FLAC: the quantisation is far below anything measured)."
    clip_path = cache_dir() / "mma" / f"v{CACHE_VERSION}" / "audio" / f"{seconds:g}s" / (
        MmaClip(groove, kit, part, np.zeros(0)).name + ".flac")
    if clip_path.is_file():
        audio, _ = soundfile.read(clip_path, dtype="float32")
        return MmaClip(groove, kit, part, audio)
    bars = _bars_needed(groove.tempo, seconds)
    content = read_midi(render_midi(groove, bars, _midi_path(groove, bars)))
    bar_seconds = content.time_signature[0] * content.seconds_per_beat
    start = (_stable(groove.slug) % 1000) / 1000 * bar_seconds  # clips start anywhere in a bar
    n = round(seconds * SR)
    rng = np.random.default_rng(_stable(f"{groove.slug}|{kit}"))  # only used by voices a kit lacks
    drums = render_drums(drum_hits(content, start, seconds), kit, n, SR, rng, style="")
    if part == "full":
        backing = render_accompaniment(content, start, n)
        level = float(np.sqrt(np.mean(backing ** 2)))
        mix = drums / np.sqrt(np.mean(drums ** 2) + 1e-24) + (backing / level * 10 ** (-3 / 20) if level > 1e-6 else 0)
        audio = _normalise(mix)
    else:
        audio = _normalise(drums)
    clip_path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(clip_path.with_suffix(".tmp.flac"), audio, SR, subtype="PCM_16")
    clip_path.with_suffix(".tmp.flac").replace(clip_path)
    return MmaClip(groove, kit, part, audio)


def mma_clips(cap: int = 12, seconds: float = 20.0, kits: Sequence[str] = ACOUSTIC_HELD_OUT_KITS,
              parts: Sequence[str] = ("drums",), progress: bool = True) -> Iterator[MmaClip]:
    """Every selected groove on every kit, as every part; needs `mma` (apt-get install mma) and mido.

    The "full" part is only made for grooves that have an accompaniment: for the others it would be the
    drums again."""
    if not mma_available():
        raise RuntimeError("the MMA benchmark needs Debian's `mma` package: apt-get install mma")
    if unknown := set(parts) - set(PARTS):
        raise ValueError(f"unknown parts {sorted(unknown)}; choose from {PARTS}")
    missing = [k for k in kits if not kit_available(k, SR)]
    if missing:
        raise RuntimeError(f"kits not installed: {missing}")
    for groove in select_grooves(cap, seconds, progress):
        for kit in kits:
            for part in parts:
                if part == "drums" or groove.accompanied:
                    yield render_clip(groove, kit, part, seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Select and render the MMA groove benchmark clips.")
    parser.add_argument("--cap", type=int, default=12, help="grooves per style at most")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--list", action="store_true", help="only list the selected grooves")
    parser.add_argument("--out", type=Path, help="also write the clips as WAV files here")
    args = parser.parse_args()
    selection = select_grooves(args.cap, args.seconds)
    counts: dict[str, int] = defaultdict(int)
    for groove in selection:
        counts[groove.style] += 1
        print(f"{groove.style:9} {groove.tempo:6.1f}  {groove.file}:{groove.name}")
    print(dict(counts), f"{len(selection)} grooves")
    if not args.list:
        for clip in mma_clips(args.cap, args.seconds, parts=PARTS):
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                soundfile.write(args.out / f"{clip.name}.wav", clip.audio, SR)
