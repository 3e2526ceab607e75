"""Labelled groove clips for benchmarking tempo, metre and key: the library's beat generator, plus a waltz.

The clips are `beat_selection.beats.generate_beat` renders of the fourteen styles, and of a 3/4 waltz
(straight or jazz) defined here because metre detection needs something that is not in 4. Seeds start at
10 000 000 x (seed + 1), far from the style model's training, held-out and catalogue seeds, and every
installed kit may play (`ALL_KITS`).

    python bench/grooves.py OUT_DIR [--per-style N] [--seconds S] [--parts full drums harmony]

Label conventions
-----------------
* ``bpm`` is the tempo of the notated beat: the quarter note, except for the 12/8 R&B ballad grooves whose
  beat is the dotted quarter. Trap and drill are labelled at their notated tempo (one snare per bar), so
  a half-time reading is an octave error that an evaluator may choose to forgive.
* ``meter`` is beats per bar: 4, or 3 for the waltz.
* ``swing`` is where the second subdivision of a swung pair falls, as a fraction of the pair: 0.5 straight,
  2/3 triplet.
* Clips start at a random phase within a bar, so t=0 is not beat one.
* ``parts`` is "full", "drums" or "harmony" (everything but the drums).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from beat_selection.beats import ALL_KITS, PITCH_CLASSES, STYLES, BeatSpec, Style, generate_beat

PARTS = ("full", "drums", "harmony")
_RENDER = {"full": "full", "drums": "drums", "harmony": "no_drums"}

WALTZ = Style((84, 180), (
    {"kick": "X-----------", "snare": "----x---x---", "hat": "x-x-x-x-x-x-"},
    {"ride": "X---x-x-x---", "hat": "----x---x---", "kick": "X-----------"}),  # jazz waltz
    ("1===--------", "1===----5===", "1===5===8==="), ("----x===x===", "----x-x-x-x-", "x==========="),
    swing=(0.5, 0.62), swing_eighths=True, beats_per_bar=3, gm_bass=(32, 33), gm_chords=(0, 48, 21),
    about="3/4: oom-pah-pah, or a jazz waltz on the ride")
BENCH_STYLES: dict[str, Style] = {**STYLES, "waltz": WALTZ}


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
    kit: str  # drum kit, or "none" for harmony-only clips
    swing: float
    parts: str  # "full" | "drums" | "harmony"


def groove_set(n_per_style: int = 8, seconds: float = 30.0, sr: int = 22050, seed: int = 0,
               parts: tuple[str, ...] = PARTS) -> Iterator[LabelledClip]:
    """Yield `n_per_style` grooves of every benchmark style, each as the requested `parts`."""
    if unknown := set(parts) - set(PARTS):
        raise ValueError(f"unknown parts {sorted(unknown)}; choose from {PARTS}")
    for style in BENCH_STYLES:
        for index in range(n_per_style):
            beat = generate_beat(BeatSpec(style, seconds=seconds), 10_000_000 * (seed + 1) + index,
                                 tuple(_RENDER[p] for p in parts), sr=sr, kits=ALL_KITS, styles=BENCH_STYLES)
            for part in parts:
                harmonic, kit = part != "drums", beat.kit if part != "harmony" else "none"
                key = f"{PITCH_CLASSES[beat.tonic]}{'maj' if beat.mode == 'major' else 'min'}" if harmonic else "nokey"
                yield LabelledClip(
                    name=f"{style}-{beat.bpm:05.1f}bpm-{key}-{kit.replace(':', '_').replace(' ', '_')}-s{index:02d}-{part}",
                    style=style, audio=beat.stems[_RENDER[part]], sr=sr, bpm=beat.bpm,
                    meter=BENCH_STYLES[style].beats_per_bar, tonic=beat.tonic if harmonic else None,
                    mode=beat.mode if harmonic else None, kit=kit, swing=beat.swing, parts=part)


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
    print(f"{'name':64} {'bpm':>6} {'meter':>5} {'key':>7} {'swing':>6}")
    for clip in groove_set(args.per_style, args.seconds, seed=args.seed, parts=tuple(args.parts)):
        soundfile.write(args.out_dir / f"{clip.name}.wav", clip.audio, clip.sr)
        key = "-" if clip.tonic is None else f"{PITCH_CLASSES[clip.tonic]} {clip.mode[:3]}"
        print(f"{clip.name:64} {clip.bpm:6.1f} {clip.meter:5d} {key:>7} {clip.swing:6.3f}")
