"""Deterministic, labelled groove clips for benchmarking tempo and key estimators.

Every clip is a humanised groove in one of a dozen styles: drums from a
per-clip randomised numpy drum machine or from General MIDI SoundFont kits,
plus a bass line and chords that follow a progression in the clip's key.
The same arguments give bit-identical audio on machines with the same sound
sources (the SoundFont path needs ``tinysoundfont`` and FluidR3_GM.sf2; without
them every clip falls back to the numpy synthesizers).

Hard cases are there on purpose: slow grooves (soul, reggae, < 80 BPM), fast
ones (trap, jazz, waltz, rock, > 140 BPM), swung jazz, 3-3-2 figures (latin,
afrobeat, house piano) whose dotted-8th pulse reads as 4/3 of the tempo, and
minor keys whose progressions (i-VI-III-VII) sit on the relative major's chords.

    python bench/grooves.py OUT_DIR [--per-style N] [--seconds S] [--parts full drums harmony]

Label conventions
-----------------
* ``bpm`` is the tempo of the notated beat: the quarter note, except for the
  12/8 soul ballad grooves whose beat is the dotted quarter. Trap is labelled
  at its notated tempo (snare on beat 3), so a half-time reading is an octave
  error that an evaluator may choose to forgive.
* ``meter`` is beats per bar: 4, or 3 for the "waltz" style (3/4, beat =
  quarter note). No clip is labelled in dotted quarters of a 6/8 bar.
* ``swing`` is where the second subdivision of a swung pair falls, as a
  fraction of the pair: 0.5 straight, 2/3 triplet. Hip-hop, funk and similar
  styles swing 16ths; jazz and waltz swing 8ths. Grooves written on a triplet
  grid (12/8) report 2/3.
* Clips start at a random phase within a bar, so t=0 is not beat one.
"""

from __future__ import annotations

import argparse
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np
from scipy import signal

PARTS = ("full", "drums", "harmony")
SOUNDFONT_PATHS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
GM_DRUM_KEYS = {"kick": 36, "snare": 38, "clap": 39, "rim": 37, "hat": 42, "hat_open": 46,
                "shaker": 70, "ride": 51, "tom_hi": 48, "tom_lo": 45, "crash": 49}
# Peak level of each synth voice, set by ear the way a drum-machine's faders would be.
SYNTH_LEVEL = {"kick": 1.0, "snare": 0.8, "clap": 0.7, "rim": 0.45, "hat": 0.3, "hat_open": 0.3, "shaker": 0.2,
               "ride": 0.3, "tom_hi": 0.7, "tom_lo": 0.75, "crash": 0.4}
HIT_VELOCITY = {"X": 1.0, "x": 0.75, "o": 0.32, "r": 0.55}  # accent, normal, ghost, roll
ONE_SHOT_SECONDS = 4.5  # longest pitched note: one bar of 4/4 at 60 BPM plus a release
PRE_ROLL = ONE_SHOT_SECONDS  # rendered before t=0 so notes and cymbals ring into the clip's start
BASS_FLOOR = 28  # E1: bass roots sit in E1..D#2

# Chord symbols and Roman-numeral degrees: (semitones above tonic, triad quality).
CHORD_TONES = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "maj7": (0, 4, 7, 11),
               "7": (0, 4, 7, 10), "min7": (0, 3, 7, 10), "m7b5": (0, 3, 6, 10)}
DEGREES = {"major": {"I": (0, "maj"), "ii": (2, "min"), "iii": (4, "min"), "IV": (5, "maj"),
                     "V": (7, "maj"), "vi": (9, "min")},
           # minor keys borrow the major V (harmonic-minor leading tone) next to the natural-minor chords
           "minor": {"i": (0, "min"), "ii°": (2, "dim"), "III": (3, "maj"), "iv": (5, "min"),
                     "V": (7, "maj"), "VI": (8, "maj"), "VII": (10, "maj")}}
PROGRESSIONS = {"major": ("I V vi IV", "I vi IV V", "I IV V IV", "I IV I V", "ii V I I", "I iii IV V", "I IV"),
                "minor": ("i iv V i", "i VI III VII", "i VII VI V", "i iv i V", "i VI iv V", "ii° V i i", "i iv")}


@dataclass(frozen=True, eq=False)  # eq=False: comparing ndarrays field-wise is ambiguous
class LabelledClip:
    """One benchmark clip and its ground truth (see the module docstring for conventions)."""

    name: str
    style: str
    audio: np.ndarray  # float32 mono, peak ~0.9
    sr: int
    bpm: float
    meter: int
    tonic: int | None  # pitch class 0=C..11=B; None when the clip has no harmony
    mode: str | None  # "major" | "minor" | None
    kit: str  # drum source: "synth", "fluid", or "none" for harmony-only clips
    swing: float
    parts: str  # "full" | "drums" | "harmony"


@dataclass(frozen=True)
class Style:
    """How a style is played. Patterns are strings on a step grid, one character per step.

    Drums: ``X`` accent, ``x`` hit, ``o`` ghost, ``r`` roll, ``-`` rest.
    Bass: ``1 3 5 7 8`` chord root/third/fifth/seventh/octave, ``~`` chromatic approach
    to the next chord's root, ``=`` holds the previous note, ``-`` rest.
    Chords: ``x``/``X`` strike, ``=`` hold, ``-`` rest.
    A grid has 4 steps per beat (16ths) or 3 (triplets); bass and chord patterns are
    paired with grooves of the same length.
    """

    tempo: tuple[float, float]
    grooves: tuple[dict[str, str], ...]
    bass: tuple[str, ...]
    chords: tuple[str, ...]
    swing: tuple[float, float] = (0.5, 0.5)
    swing_eighths: bool = False
    beats_per_bar: int = 4
    sevenths: bool = False
    ghost_rate: float = 0.0
    gm_kits: tuple[int, ...] = (0, 8)
    gm_bass: tuple[int, ...] = (33, 34)  # empty: always the synth 808
    gm_chords: tuple[int, ...] = (0, 4)


STYLES: dict[str, Style] = {
    "rock": Style((88, 160), (
        {"kick": "X-------X-x-----", "snare": "----X-------X---", "hat": "x-x-x-x-x-x-x-x-"},
        {"kick": "X-----x-X-------", "snare": "----X-------X--o", "hat": "X-x-X-x-X-x-X-x-"},
        {"kick": "X-x-----X-x---x-", "snare": "----X-------X---", "ride": "x-x-x-x-x-x-x-x-"}),
        ("1-1-1-1-1-1-1-1-", "1===1===1=1=5=~=", "1-1-1-1-5-5-8-8-"),
        ("x=======x=======", "x-x-x-x-x-x-x-x-", "x=====x=====x==="),
        gm_kits=(0, 8, 16), gm_chords=(0, 27, 29)),
    "pop": Style((92, 128), (
        {"kick": "X-------X-------", "clap": "----X-------X---", "hat": "x-x-x-x-x-x-x-x-",
         "shaker": "xoxoxoxoxoxoxoxo"},
        {"kick": "X-----x-X-x-----", "snare": "----X-------X---", "hat": "Xxxxxxxxxxxxxxxx"}),
        ("1=====1=1===5===", "1===1===1===1==~"), ("x===============", "x==x==x=x==x==x="),
        swing=(0.5, 0.54), gm_bass=(33, 38), gm_chords=(0, 4, 88)),
    "funk": Style((88, 118), (
        {"kick": "X-x-------x--x--", "snare": "----X--o-o--X--o", "hat": "XxxxXxxxXxxxXxxx"},
        {"kick": "X--x--x---x-----", "snare": "----X-o----oX-o-", "hat": "x-xxx-xxx-xxx--o",
         "hat_open": "--------------x-"}),
        ("1-8-8--1-1-5-8-~", "1--1--8-1-5-7-8-"), ("--x--x-x--x---x-", "x-----x---x-x---"),
        swing=(0.5, 0.58), sevenths=True, ghost_rate=0.2,
        gm_kits=(0, 8, 32), gm_bass=(33, 36), gm_chords=(4, 16, 27)),
    "soul": Style((60, 80), (
        {"kick": "X------x-x------", "snare": "----X-------X---", "hat": "XxxxXxxxXxxxXxxx"},
        {"kick": "X-----x---X-----", "rim": "----X-------X---", "hat": "xoxoxoxoxoxoxoxo",
         "shaker": "--x---x---x---x-"},
        {"kick": "X-----x-x---", "snare": "---X-----X--", "hat": "XxxXxxXxxXxx"}),  # 12/8 ballad
        ("1=====1-5=====~=", "1=======5===3=5=", "1====-5==-8-", "1==--15==-~-"),
        ("x===============", "x=======x=======", "xxxxxxxxxxxx", "x=====x====="),
        swing=(0.5, 0.56), sevenths=True, ghost_rate=0.12,
        gm_kits=(0, 8, 32), gm_bass=(33, 32), gm_chords=(4, 16, 48)),
    "hiphop": Style((80, 100), (
        {"kick": "X-------X-x-----", "snare": "----X-------X---", "hat": "x-x-x-x-x-x-x-x-"},
        {"kick": "X------xX-x---x-", "snare": "----X-------X---", "hat": "x-xxx-x-x-xxx-x-"}),
        ("1=====1-----1=-~", "1===---1-1==----"), ("x=======x=======", "x==============="),
        swing=(0.54, 0.66), gm_kits=(0, 8, 25), gm_bass=(33, 38), gm_chords=(4, 5, 0)),
    "trap": Style((130, 160), (  # half-time: the backbeat is a single snare/clap on beat 3
        {"kick": "X------x--x-----", "clap": "--------X-------", "hat": "x-x-x-x-x-x-r-x-"},
        {"kick": "X-----x---x--x--", "snare": "--------X-------", "hat": "x-x-x-r-x-x-xxrr"}),
        ("1=========1=====", "1=====1===1====="), ("x===============", "x=======x======="),
        swing=(0.5, 0.54), gm_kits=(25,), gm_bass=(), gm_chords=(89, 48, 88)),
    "house": Style((118, 128), (
        {"kick": "X---X---X---X---", "clap": "----X-------X---", "hat_open": "--x---x---x---x-",
         "hat": "xo-oxo-oxo-oxo-o"},
        {"kick": "X---X---X---X---", "snare": "----X-------X---", "hat_open": "--x---x---x---x-",
         "shaker": "xoxoxoxoxoxoxoxo"}),
        ("--1---1---1---1-", "--1-1-8---1-1-8-"), ("--x---x---x---x-", "x==x==x=x==x==x="),
        swing=(0.5, 0.56), sevenths=True, gm_kits=(24, 25), gm_bass=(38, 39), gm_chords=(0, 4, 89)),
    "afrobeat": Style((95, 120), (
        {"kick": "X-----x---X--x--", "snare": "--o-X--o-oo-X--o", "hat": "x-xxx-xxx-xxx-xx"},
        {"kick": "X--x--x-X--x--x-", "rim": "---x--x----x--x-", "shaker": "XoxoXoxoXoxoXoxo"}),  # 3-3-2
        ("1--1--5-8--5--1-", "1=-1=-5=--1-5=~="), ("x-xx-x-xx-x-x-x-", "--x--x--x-x--x--"),
        swing=(0.5, 0.56), ghost_rate=0.1, gm_bass=(33,), gm_chords=(27, 16, 4)),
    "latin": Style((88, 140), (
        {"kick": "X--xX--xX--xX--x", "rim": "x--x--x---x--x--", "hat": "x-x-x-x-x-x-x-x-"},  # bossa clave
        {"kick": "X---X---X---X---", "snare": "---x--x----x--x-", "hat": "x-x-x-x-x-x-x-x-"},  # dembow / tresillo
        {"kick": "---x------x-----", "rim": "x--x--x---x-x---", "shaker": "XxxxXxxxXxxxXxxx"}),  # 3-2 son clave
        ("1==-5=-=1==-5==-", "---5--1=---5--1=", "1===1===1===1==="), ("x--x--x---x--x--", "--x--x--x-x--x--"),
        sevenths=True, gm_bass=(32, 33), gm_chords=(24, 0)),
    "jazz": Style((100, 200), (  # brushes or ride; the hi-hat foot closes on 2 and 4
        {"ride": "X---x-x-X---x-x-", "hat": "----x-------x---", "kick": "o---o---o---o---"},
        {"ride": "X---x-x-X---x-x-", "hat": "----x-------x---", "snare": "------o-------o-"}),
        ("1===3===5===~===", "1===5===8===~===", "1===3===5===7==="),
        ("x=====x=--------", "------x=------x=", "x===----------x="),
        swing=(0.58, 0.7), swing_eighths=True, sevenths=True, ghost_rate=0.1,
        gm_kits=(32, 40), gm_bass=(32,), gm_chords=(0, 26, 4)),
    "reggae": Style((60, 85), (
        {"kick": "--------X-------", "rim": "--------X-------", "hat": "x-x-x-x-x-x-x-x-"},  # one-drop
        {"kick": "X---X---X---X---", "rim": "--------X-------", "hat": "x-xxx-xxx-xxx-xx"}),  # steppers
        ("----1=-1-5--8=--", "--1=1-5===--5-~-"), ("----x-------x---", "----x-x-----x-x-"),
        swing=(0.5, 0.6), gm_bass=(33,), gm_chords=(16, 27)),
    "waltz": Style((84, 180), (
        {"kick": "X-----------", "snare": "----x---x---", "hat": "x-x-x-x-x-x-"},
        {"ride": "X---x-x-x---", "hat": "----x---x---", "kick": "X-----------"}),  # jazz waltz
        ("1===--------", "1===----5===", "1===5===8==="), ("----x===x===", "----x-x-x-x-", "x==========="),
        swing=(0.5, 0.62), swing_eighths=True, beats_per_bar=3,
        gm_kits=(0, 32, 40), gm_bass=(32, 33), gm_chords=(0, 48, 21)),
}


class DrumHit(NamedTuple):
    time: float  # seconds from clip start
    voice: str  # a key of GM_DRUM_KEYS
    velocity: float  # 0..1


class Note(NamedTuple):
    time: float
    duration: float
    pitch: int  # MIDI note number
    velocity: float
    track: str  # "bass" | "chords"


class Chord(NamedTuple):
    root: int  # pitch class
    quality: str  # a key of CHORD_TONES


@dataclass(frozen=True)
class Plan:
    """Every random musical decision for one groove, drawn before any rendering."""

    bpm: float
    swing: float
    tonic: int
    mode: str
    groove: dict[str, str]
    alt_groove: dict[str, str]
    bass: str
    chords: str
    progression: tuple[Chord, ...]
    phase_beats: float  # where in the first bar the clip starts
    drum_source: str  # "fluid" | "synth"
    harmony_source: str
    gm_kit: int
    gm_bass: int
    gm_chords: int
    synth_timbre: str

    @property
    def steps(self) -> int:
        """Grid steps per bar."""
        return len(next(iter(self.groove.values())))


# ---------------------------------------------------------------- planning

def _progression(tonic: int, mode: str, text: str, sevenths: bool) -> tuple[Chord, ...]:
    """Turn Roman numerals into chords; jazzier styles stack the diatonic seventh."""
    chords = []
    for numeral in text.split():
        degree, quality = DEGREES[mode][numeral]
        if sevenths:
            dominant = degree == 7 or (mode == "minor" and degree == 10)
            quality = {"maj": "7" if dominant else "maj7", "min": "min7", "dim": "m7b5"}[quality]
        chords.append(Chord((tonic + degree) % 12, quality))
    return tuple(chords)


def _draw_plan(style: Style, rng: np.random.Generator, soundfont_ok: bool) -> Plan:
    """Draw tempo, key, patterns and sound sources. Draw order is fixed, so the plan does
    not depend on whether a SoundFont is installed (only the sources fall back)."""
    bpm = round(float(rng.uniform(*style.tempo)), 1)
    tonic, mode = int(rng.integers(12)), ("major", "minor")[int(rng.integers(2))]
    groove, alt_groove = (style.grooves[i] for i in rng.integers(len(style.grooves), size=2))
    steps = len(next(iter(groove.values())))
    if len(next(iter(alt_groove.values()))) != steps:
        alt_groove = groove  # never mix a triplet-grid bar into a 16th-grid groove
    triplet_grid = steps // style.beats_per_bar == 3
    swing = 2 / 3 if triplet_grid else round(float(rng.uniform(*style.swing)), 3)
    bass = str(rng.choice([p for p in style.bass if len(p) == steps]))
    chords = str(rng.choice([p for p in style.chords if len(p) == steps]))
    progression = _progression(tonic, mode, str(rng.choice(PROGRESSIONS[mode])), style.sevenths)
    phase = float(rng.uniform(0, style.beats_per_bar))
    fluid_drums, fluid_harmony = rng.random(2) < (0.5, 0.7)
    gm_kit, gm_chords = int(rng.choice(style.gm_kits)), int(rng.choice(style.gm_chords))
    gm_bass = int(rng.choice(style.gm_bass)) if style.gm_bass else -1
    sustained = "=" in chords  # a slow-attack pad would never speak on short stabs
    timbre = str(rng.choice(["keys", "organ", "pad"] if sustained else ["keys", "organ"]))
    return Plan(bpm, swing, tonic, mode, groove, alt_groove, bass, chords, progression, phase,
                "fluid" if fluid_drums and soundfont_ok else "synth",
                "fluid" if fluid_harmony and soundfont_ok else "synth",
                gm_kit, gm_bass, gm_chords, timbre)


# ---------------------------------------------------------------- events

def _step_grid(steps: int, beats_per_bar: int, swing: float, swing_eighths: bool) -> np.ndarray:
    """Beat position of every grid step (plus the bar line), with swing applied."""
    per_beat = steps // beats_per_bar
    positions = []
    for step in range(steps + 1):
        beat, sub = divmod(step, per_beat)
        if per_beat != 4:
            offset = sub / per_beat  # a triplet grid already is the swing
        elif swing_eighths:
            # the off-beat 8th moves to `swing`; 16ths in between are stretched to fit
            offset = sub / 2 * swing if sub < 2 else swing + (sub - 2) / 2 * (1 - swing)
        else:
            pair, second = divmod(sub, 2)
            offset = 0.5 * pair + 0.5 * swing * second
        positions.append(beat + offset)
    return np.array(positions)


class Timing:
    """Maps (bar, fractional step) to seconds, adding a per-voice feel and random jitter."""

    def __init__(self, plan: Plan, style: Style, rng: np.random.Generator) -> None:
        self.grid = _step_grid(plan.steps, style.beats_per_bar, plan.swing, style.swing_eighths)
        self.beats_per_bar, self.seconds_per_beat = style.beats_per_bar, 60.0 / plan.bpm
        self.phase, self.rng = plan.phase_beats, rng
        self.jitter = float(rng.uniform(0.002, 0.007))
        # players push or lay back consistently; backbeats are the usual laid-back ones
        self.feel = {voice: float(rng.normal(0, 0.004)) for voice in (*GM_DRUM_KEYS, "bass", "chords")}
        for voice in ("snare", "clap", "rim"):
            self.feel[voice] += float(rng.uniform(0, 0.01))

    def __call__(self, bar: int, step: float, voice: str) -> float:
        beats = bar * self.beats_per_bar + np.interp(step, np.arange(len(self.grid)), self.grid)
        return float((beats - self.phase) * self.seconds_per_beat + self.feel[voice]
                     + self.rng.normal(0, self.jitter))


def _drum_bar(groove: dict[str, str], fill_steps: int, ghost_rate: float,
              rng: np.random.Generator) -> list[tuple[float, str, float]]:
    """(step, voice, velocity) for one bar; the last `fill_steps` steps become a fill."""
    steps = len(next(iter(groove.values())))
    fill_from = steps - fill_steps
    hits: list[tuple[float, str, float]] = []
    for voice, pattern in groove.items():
        for step, symbol in enumerate(pattern):
            if symbol == "-" or (step >= fill_from and voice != "kick"):
                continue
            if voice.startswith("hat") and rng.random() < 0.04:
                continue  # a skipped stroke keeps the hats from looping perfectly
            if symbol == "r":  # a trap roll splits the step into 2-4 quick strokes
                count = int(rng.integers(2, 5))
                hits += [(step + k / count, voice, HIT_VELOCITY["r"] * (0.8 + 0.1 * k)) for k in range(count)]
            else:
                hits.append((step, voice, HIT_VELOCITY[symbol]))
    snare = groove.get("snare", "-" * steps)
    for step in range(fill_from):
        near_backbeat = "X" in snare[max(step - 1, 0): step + 2]
        if snare[step] == "-" and not near_backbeat and rng.random() < ghost_rate:
            hits.append((step, "snare", float(rng.uniform(0.15, 0.3))))
    for step in range(fill_from, steps):
        if rng.random() < 0.8:
            voice = ("snare", "tom_hi", "tom_lo")[min(2, 3 * (step - fill_from) // max(fill_steps, 1))]
            hits.append((step, voice, 0.5 + 0.5 * (step - fill_from + 1) / fill_steps))
    return hits


def _drum_events(plan: Plan, style: Style, timing: Timing, bars: range,
                 rng: np.random.Generator) -> list[DrumHit]:
    """Drums for the whole clip: phrase-end fills, crashes after them, alternate bars."""
    per_beat = plan.steps // style.beats_per_bar
    events, crash_next = [], rng.random() < 0.5
    for bar in bars:
        phrase_end = (bar % 8 == 7 and rng.random() < 0.85) or (bar % 4 == 3 and rng.random() < 0.35)
        fill_steps = per_beat * (2 if rng.random() < 0.3 else 1) if phrase_end else 0
        groove = plan.alt_groove if rng.random() < 0.25 else plan.groove
        hits = _drum_bar(groove, fill_steps, style.ghost_rate, rng)
        if crash_next:
            hits.append((0, "crash", 0.85))
        crash_next = phrase_end
        for step, voice, velocity in hits:
            loudness = velocity * float(np.exp(rng.normal(0, 0.1)))
            events.append(DrumHit(timing(bar, step, voice), voice, min(loudness, 1.0)))
    return [hit for hit in events if hit.time >= -PRE_ROLL]


def _segments(pattern: str) -> Iterator[tuple[int, int, str]]:
    """(onset step, length in steps, symbol) per note; '=' extends the note before it."""
    for step, symbol in enumerate(pattern):
        if symbol not in "-=":
            length = 1
            while step + length < len(pattern) and pattern[step + length] == "=":
                length += 1
            yield step, length, symbol


def _bass_pitch(symbol: str, chord: Chord, next_chord: Chord, rng: np.random.Generator) -> int:
    root = BASS_FLOOR + (chord.root - BASS_FLOOR) % 12
    if symbol == "~":
        return BASS_FLOOR + (next_chord.root - BASS_FLOOR) % 12 + int(rng.choice((-1, 1)))
    tones = CHORD_TONES[chord.quality]
    seventh = tones[3] if len(tones) > 3 else 12  # triads have no seventh: play the octave
    return root + {"1": 0, "3": tones[1], "5": tones[2], "7": seventh, "8": 12}[symbol]


def _voicing(chord: Chord, low: int = 53) -> list[int]:
    """Close voicing inside one octave from `low`, which gives smooth voice leading for free."""
    return sorted(low + (chord.root + interval - low) % 12 for interval in CHORD_TONES[chord.quality])


def _harmony_events(plan: Plan, style: Style, timing: Timing, bars: range,
                    rng: np.random.Generator) -> list[Note]:
    """Bass and chord notes following the progression, one chord per bar (two when bars are short)."""
    bar_seconds = style.beats_per_bar * 60.0 / plan.bpm
    bars_per_chord = 2 if bar_seconds < 1.6 else 1
    strum = float(rng.uniform(0, 0.012))  # guitars and pianists rarely strike a chord at once
    notes: list[Note] = []
    for bar in bars:
        chord_index = bar // bars_per_chord
        chord = plan.progression[chord_index % len(plan.progression)]
        next_chord = plan.progression[(chord_index + 1) % len(plan.progression)]
        for track, pattern in (("bass", plan.bass), ("chords", plan.chords)):
            for step, length, symbol in _segments(pattern):
                start = timing(bar, step, track)
                duration = max(0.03, 0.92 * (timing(bar, step + length, track) - start))
                velocity = (0.85 if symbol == "X" else 0.68) * float(np.exp(rng.normal(0, 0.08)))
                if track == "bass":
                    notes.append(Note(start, duration, _bass_pitch(symbol, chord, next_chord, rng), velocity, track))
                else:
                    notes += [Note(start + i * strum, duration, pitch, velocity * 0.8, track)
                              for i, pitch in enumerate(_voicing(chord))]
    longest = ONE_SHOT_SECONDS - 0.2
    return [n._replace(duration=min(n.duration, longest)) for n in notes if n.time >= -PRE_ROLL]


# ---------------------------------------------------------------- synthesis

def _decay(n: int, sr: int, seconds: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (seconds * sr))


def _filtered(x: np.ndarray, sr: int, low: float, high: float | None = None) -> np.ndarray:
    """High-pass (or band-pass) noise the way analogue drum machines shape it."""
    nyquist_safe = 0.45 * sr
    if high is None:
        sos = signal.butter(2, min(low, nyquist_safe), "highpass", fs=sr, output="sos")
    else:
        band = (min(low, nyquist_safe * 0.8), min(high, nyquist_safe))
        sos = signal.butter(2, band, "bandpass", fs=sr, output="sos")
    return signal.sosfilt(sos, x)


def _pitch_drop(n: int, sr: int, start_hz: float, end_hz: float, drop_seconds: float) -> np.ndarray:
    """Sine gliding exponentially from start_hz to end_hz: the body of kicks and toms."""
    freq = end_hz + (start_hz - end_hz) * _decay(n, sr, drop_seconds)
    return np.sin(2 * np.pi * np.cumsum(freq) / sr)


def _metallic(n: int, sr: int, base_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Six detuned square waves at inharmonic ratios: the classic analogue cymbal source."""
    ratios = np.array([1.0, 1.48, 1.8, 2.55, 2.63, 3.9])
    phases = 2 * np.pi * np.outer(base_hz * ratios, np.arange(n) / sr) + rng.uniform(0, 2 * np.pi, (6, 1))
    return np.sign(np.sin(phases)).mean(axis=0)


def _synth_kit(sr: int, rng: np.random.Generator, brushes: bool, boomy: bool) -> dict[str, list[np.ndarray]]:
    """A randomised drum machine: two takes of every voice, differing only in their noise."""
    kick_decay = rng.uniform(0.5, 0.9) if boomy else rng.uniform(0.12, 0.35)
    kick_hz, tom_hz, snare_hz = rng.uniform(110, 220), rng.uniform(100, 140), rng.uniform(160, 260)
    snare_decay, snare_noise = rng.uniform(0.06, 0.18), rng.uniform(0.4, 0.75)
    hat_cut, hat_decay, open_decay = rng.uniform(6000, 9000), rng.uniform(0.025, 0.07), rng.uniform(0.2, 0.45)
    metal_hz, ride_decay = rng.uniform(280, 480), rng.uniform(1.0, 2.0)

    def voice(name: str) -> np.ndarray:
        n = lambda seconds: int(seconds * sr)  # noqa: E731
        noise = rng.standard_normal  # takes a sample count
        if name == "kick":
            m = n(5 * kick_decay)
            body = _pitch_drop(m, sr, kick_hz, rng.uniform(42, 60), rng.uniform(0.015, 0.05))
            click = _filtered(noise(n(0.004)), sr, 2000) * rng.uniform(0.05, 0.3)
            return body * _decay(m, sr, kick_decay) + np.pad(click, (0, m - len(click)))
        if name == "snare" and brushes:  # a brush: soft-attack filtered noise, little tone
            m = n(0.6)
            swish = _filtered(noise(m), sr, 800, 6000) * _decay(m, sr, 0.15)
            return swish * np.minimum(1, np.arange(m) / n(0.008))
        if name == "snare":
            m = n(6 * snare_decay)
            tone = np.sin(2 * np.pi * snare_hz * np.arange(m) / sr) * _decay(m, sr, 0.05)
            rattle = _filtered(noise(m), sr, 1500, 8000) * _decay(m, sr, snare_decay)
            return (1 - snare_noise) * tone + snare_noise * 3 * rattle
        if name == "clap":
            m = n(0.4)
            # several hands clapping a few ms apart, then the room
            bursts = sum(np.roll(_decay(m, sr, 0.004), n(0.011 * k)) * (np.arange(m) >= n(0.011 * k)) for k in range(3))
            envelope = bursts + 0.4 * _decay(m, sr, 0.12)
            return 3 * _filtered(noise(m), sr, 900, 2500) * envelope
        if name == "rim":
            m = n(0.08)
            return np.sin(2 * np.pi * rng.uniform(1600, 2200) * np.arange(m) / sr) * _decay(m, sr, 0.012)
        if name in ("hat", "hat_open", "ride", "crash"):
            decay = {"hat": hat_decay, "hat_open": open_decay, "ride": ride_decay, "crash": 2.0}[name]
            m = n(min(5 * decay, 3.0))
            source = _metallic(m, sr, metal_hz * (1.3 if name == "ride" else 1.0), rng) + 0.7 * noise(m)
            envelope = _decay(m, sr, decay)
            if name == "ride":  # a ride is a bright ping over a much quieter wash
                envelope = _decay(m, sr, 0.05) + 0.15 * envelope
            return _filtered(source, sr, {"ride": 4000, "crash": 3000}.get(name, hat_cut)) * envelope
        if name == "shaker":
            m = n(0.15)
            return _filtered(noise(m), sr, 5000, 9500) * np.minimum(1, np.arange(m) / n(0.012)) * _decay(m, sr, 0.04)
        m = n(1.0)  # toms
        hz = tom_hz * (1.5 if name == "tom_hi" else 1.0)
        return _pitch_drop(m, sr, hz * 1.4, hz, 0.03) * _decay(m, sr, 0.22)

    takes = {name: [voice(name) for _ in range(2)] for name in GM_DRUM_KEYS}
    return {name: [SYNTH_LEVEL[name] * x / np.max(np.abs(x)) for x in pair] for name, pair in takes.items()}


def _place(out: np.ndarray, sound: np.ndarray, start: int) -> None:
    """Overlap-add `sound` into `out` from sample `start`, clipped to the buffer."""
    skip, end = max(0, -start), min(len(out), start + len(sound))
    if start + skip < end:
        out[start + skip: end] += sound[skip: end - start]


def _render_synth_drums(hits: list[DrumHit], kit: dict[str, list[np.ndarray]], n: int, sr: int,
                        rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    closed_hat_starts = np.array(sorted(round(h.time * sr) for h in hits if h.voice == "hat"), dtype=int)
    for hit in hits:
        start = round(hit.time * sr)
        sound = kit[hit.voice][int(rng.integers(2))] * hit.velocity ** 1.5
        if hit.voice == "hat_open":  # a closed hat chokes a ringing open one
            later = closed_hat_starts[closed_hat_starts > start]
            if len(later) and later[0] - start < len(sound):
                sound = sound[: later[0] - start] * np.linspace(1, 0, later[0] - start) ** 0.2
        _place(out, sound, start)
    return out


TIMBRES = {  # harmonic amplitudes, per-harmonic decay (s) at harmonic 1, attack (s)
    "bass": (1 / np.arange(1, 7) ** 1.8, 1.2, 0.005),
    "keys": (1 / np.arange(1, 9) ** 1.4, 2.0, 0.003),
    "organ": (np.array([1, 0.8, 0.5, 0.4, 0, 0.25, 0, 0.2]), 1e6, 0.01),
    "pad": (1 / np.arange(1, 11) ** 1.5, 1e6, 0.25),
}


@lru_cache(maxsize=256)
def _synth_tone(timbre: str, pitch: int, sr: int) -> np.ndarray:
    """A long one-shot of `pitch`; notes are cut from it with a release fade."""
    n = int(ONE_SHOT_SECONDS * sr)
    t = np.arange(n) / sr
    f0 = 440.0 * 2 ** ((pitch - 69) / 12)
    if timbre == "808":  # sub sine with a thump of pitch at the attack, gently saturated
        phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.6 * np.exp(-t / 0.04))) / sr
        tone = np.tanh(2.5 * np.sin(phase) * np.exp(-t / 1.2))
    else:
        amplitudes, decay, attack = TIMBRES[timbre]
        harmonics = np.arange(1, len(amplitudes) + 1)
        audible = harmonics * f0 < 0.45 * sr
        detunes = (0.996, 1.004) if timbre == "pad" else (1.0,)  # two slightly detuned voices = chorus
        tone = np.zeros(n)
        for detune in detunes:
            for k, a in zip(harmonics[audible], amplitudes[audible]):
                tone += a * np.sin(2 * np.pi * k * f0 * detune * t) * np.exp(-t * np.sqrt(k) / decay)
        tone *= np.minimum(1.0, t / attack)
    tone = (tone / np.max(np.abs(tone))).astype(np.float32)
    tone.flags.writeable = False
    return tone


def _render_synth_notes(notes: list[Note], timbre: str, n: int, sr: int) -> np.ndarray:
    out = np.zeros(n)
    release = int((0.15 if timbre == "pad" else 0.03) * sr)
    for note in notes:
        held = int(note.duration * sr)
        sound = _synth_tone(timbre, note.pitch, sr)[: held + release].astype(np.float64)
        sound[held:] *= np.linspace(1, 0, len(sound) - held)
        _place(out, sound * note.velocity, round(note.time * sr))
    return out


@lru_cache(maxsize=2)
def _soundfont(sr: int) -> tuple[Any, int] | None:
    """(tinysoundfont.Synth, SoundFont id) if the package and a GM SoundFont exist, else None."""
    path = next((p for p in SOUNDFONT_PATHS if Path(p).is_file()), None)
    try:
        import tinysoundfont
    except ImportError:
        path = None
    if path is None:
        return None
    synth = tinysoundfont.Synth(samplerate=sr)
    return synth, synth.sfload(path)


def _render_soundfont(events: list[tuple[float, ...]], bank: int, preset: int, n: int, sr: int) -> np.ndarray:
    """Play (time, MIDI key, velocity 0..1[, duration]) events on one preset.

    Events without a duration get no note-off: drums ring out as GM percussion should."""
    synth, sfid = _soundfont(sr)
    synth.soundfonts[sfid].reset()  # stop voices and forget channel state from the last clip...
    synth.generate(sr // 10)  # ...and let their quick release die away: clips stay bit-identical
    synth.program_select(0, sfid, bank, preset, is_drums=bank == 128)
    messages = []  # (frame, is_note_on, key, velocity); offs sort first when a key repeats
    for time, key, velocity, *held in events:
        key = int(key)
        messages.append((round(time * sr), 1, key, max(1, min(127, round(127 * velocity)))))
        if held:
            messages.append((round((time + held[0]) * sr), 0, key, 0))
    out, position = np.zeros(2 * n, dtype=np.float32), 0
    for frame, is_on, key, velocity in sorted(messages) + [(n, 0, -1, 0)]:
        frame = min(max(frame, position), n)
        if frame > position:
            out[2 * position: 2 * frame] = np.frombuffer(synth.generate(frame - position), dtype=np.float32)
            position = frame
        if key >= 0:
            synth.noteon(0, key, velocity) if is_on else synth.noteoff(0, key)
    return out.reshape(-1, 2).mean(axis=1).astype(np.float64)


# ---------------------------------------------------------------- mixing

def _render_stems(plan: Plan, style_name: str, drums: list[DrumHit], notes: list[Note], n: int, sr: int,
                  wanted: set[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    stems: dict[str, np.ndarray] = {}
    if "drums" in wanted and plan.drum_source == "fluid":
        stems["drums"] = _render_soundfont([(h.time, GM_DRUM_KEYS[h.voice], h.velocity) for h in drums],
                                           128, plan.gm_kit, n, sr)
    elif "drums" in wanted:
        kit = _synth_kit(sr, rng, brushes=style_name == "jazz" and rng.random() < 0.5, boomy=style_name == "trap")
        stems["drums"] = _render_synth_drums(drums, kit, n, sr, rng)
    for track in ("bass", "chords") if "harmony" in wanted else ():
        track_notes = [nt for nt in notes if nt.track == track]
        program = plan.gm_bass if track == "bass" else plan.gm_chords
        if plan.harmony_source == "fluid" and program >= 0:
            stems[track] = _render_soundfont([(nt.time, nt.pitch, nt.velocity, nt.duration) for nt in track_notes],
                                             0, program, n, sr)
        else:
            timbre = plan.synth_timbre if track == "chords" else "808" if program < 0 else "bass"
            stems[track] = _render_synth_notes(track_notes, timbre, n, sr)
    return stems


def _tilt(x: np.ndarray, sr: int, db_per_octave: float) -> np.ndarray:
    """Gentle spectral tilt around 1 kHz, like a different microphone or mastering chain."""
    freqs = np.maximum(np.fft.rfftfreq(len(x), 1 / sr), 40.0)
    return np.fft.irfft(np.fft.rfft(x) * 10 ** (db_per_octave * np.log2(freqs / 1000) / 20), len(x))


def _mix(stems: dict[str, np.ndarray], names: tuple[str, ...], gains_db: dict[str, float], tilt: float,
         noise_db: float, sr: int, noise_rng: np.random.Generator) -> np.ndarray:
    mix = np.zeros_like(next(iter(stems.values())))
    for name in names:
        rms = np.sqrt(np.mean(stems[name] ** 2)) + 1e-12
        mix += stems[name] / rms * 10 ** (gains_db[name] / 20)
    mix = _tilt(mix, sr, tilt)
    mix += noise_rng.standard_normal(len(mix)) * np.sqrt(np.mean(mix ** 2)) * 10 ** (noise_db / 20)
    return (0.9 * mix / (np.max(np.abs(mix)) + 1e-12)).astype(np.float32)


def _groove_clips(style_name: str, index: int, seconds: float, sr: int, seed: int,
                  parts: tuple[str, ...]) -> Iterator[LabelledClip]:
    """All requested stems of one groove; each random stream is independent of `parts`."""
    style = STYLES[style_name]
    streams = np.random.SeedSequence([seed, zlib.crc32(style_name.encode()), index]).spawn(5 + len(PARTS))
    plan_rng, timing_rng, drum_rng, sound_rng, mix_rng, *noise_rngs = (np.random.default_rng(s) for s in streams)
    plan = _draw_plan(style, plan_rng, _soundfont(sr) is not None)
    bar_seconds = style.beats_per_bar * 60 / plan.bpm
    bars = range(-int(np.ceil(PRE_ROLL / bar_seconds)), int(np.ceil(seconds / bar_seconds)) + 2)
    timing = Timing(plan, style, timing_rng)
    # events are rendered PRE_ROLL late, then the pre-roll is cut off
    drums = [h._replace(time=h.time + PRE_ROLL) for h in _drum_events(plan, style, timing, bars, drum_rng)]
    notes = [nt._replace(time=nt.time + PRE_ROLL) for nt in _harmony_events(plan, style, timing, bars, timing_rng)]
    wanted = {"drums", "harmony"} if "full" in parts else set(parts)
    n, pre_roll = int(seconds * sr), int(PRE_ROLL * sr)
    stems = _render_stems(plan, style_name, drums, notes, pre_roll + n, sr, wanted, sound_rng)
    stems = {name: stem[pre_roll:] for name, stem in stems.items()}
    gains_db = {"drums": float(mix_rng.uniform(-3, 3)), "bass": float(mix_rng.uniform(-7, -1)),
                "chords": float(mix_rng.uniform(-9, -3))}
    tilt, noise_db = float(mix_rng.uniform(-1.5, 1.5)), float(mix_rng.uniform(-55, -40))
    key = f"{NOTE_NAMES[plan.tonic]}{'maj' if plan.mode == 'major' else 'min'}"
    for part in parts:
        names = {"full": ("drums", "bass", "chords"), "drums": ("drums",), "harmony": ("bass", "chords")}[part]
        harmonic = part != "drums"
        audio = _mix(stems, names, gains_db, tilt, noise_db, sr, noise_rngs[PARTS.index(part)])
        kit = plan.drum_source if part != "harmony" else "none"
        yield LabelledClip(
            name=f"{style_name}-{plan.bpm:05.1f}bpm-{key if harmonic else 'nokey'}-{kit}-s{index:02d}-{part}",
            style=style_name, audio=audio, sr=sr, bpm=plan.bpm, meter=style.beats_per_bar,
            tonic=plan.tonic if harmonic else None, mode=plan.mode if harmonic else None,
            kit=kit, swing=plan.swing, parts=part)


def groove_set(n_per_style: int = 8, seconds: float = 30.0, sr: int = 22050, seed: int = 0,
               parts: tuple[str, ...] = PARTS) -> Iterator[LabelledClip]:
    """Yield `n_per_style` grooves of every style, each as the requested `parts`.

    Clips of one groove are stems of the same performance. Audio is bit-identical for
    the same arguments on the same machine; it uses the GM SoundFont through
    `tinysoundfont` when both are installed and the numpy synthesizers otherwise.
    """
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}; choose from {PARTS}")
    for style_name in STYLES:
        for index in range(n_per_style):
            yield from _groove_clips(style_name, index, seconds, sr, seed, parts)


if __name__ == "__main__":
    import soundfile

    parser = argparse.ArgumentParser(description="Write a few labelled groove clips as WAV files.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--per-style", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", nargs="+", default=["full"], choices=PARTS)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    print(f"{'name':52} {'bpm':>6} {'meter':>5} {'key':>7} {'kit':>6} {'swing':>6}")
    for clip in groove_set(args.per_style, args.seconds, seed=args.seed, parts=tuple(args.parts)):
        soundfile.write(args.out_dir / f"{clip.name}.wav", clip.audio, clip.sr)
        key = "-" if clip.tonic is None else f"{NOTE_NAMES[clip.tonic]} {clip.mode[:3]}"
        print(f"{clip.name:52} {clip.bpm:6.1f} {clip.meter:5d} {key:>7} {clip.kit:>6} {clip.swing:6.3f}")
