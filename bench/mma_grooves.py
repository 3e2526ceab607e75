"""Drum grooves programmed by third parties (Debian's MMA groove library), rendered on held-out kits.

An independent test of the style model: none of these patterns comes from this project. The library code
(reading MMA's files, the frozen file -> style table `FILE_STYLES`, compiling grooves with `mma`, rendering)
lives in `beat_selection.sources` (notebook 02b), which also uses some MMA folders as training material.
Since then this benchmark reports the folders by their role (`sources.SOURCE_SPLITS`): the training folders
(stdlib, yamaha, pflib, alexis) are NOT independent of a model trained with sources, the validation folders
(casio, kara) chose its epoch and temperature, and only the test folder (zoom) was held out of training and
tuning as a whole.

Setup (nothing is installed by this script)::

    apt-get install mma          # the `mma` command and its groove library
    pip install mido             # reads the MIDI files mma writes

How a clip is made: at most `cap` distinct 4/4 grooves per style (round-robin over the style's files, in a
fixed pseudo-random order), each rendered as written through every acoustic held-out kit at 22 050 Hz,
`seconds` long, starting at a groove-dependent phase inside a bar, peak-normalised; "full" adds MMA's own
accompaniment on the FluidR3 GM SoundFont, 3 dB under the drums, for grooves that have one.

    python bench/mma_grooves.py [--cap 12] [--seconds 20] [--folders zoom] [--list]
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from beat_selection.beats import kit_available
from beat_selection.sources import (ACOUSTIC_HELD_OUT_KITS, FILE_STYLES, MMA_FOLDERS, PARTS, SOURCE_SPLITS, SR, Groove,
                                    mma_available, render_groove, select_grooves)

__all__ = ["ACOUSTIC_HELD_OUT_KITS", "FILE_STYLES", "MmaClip", "mma_available", "mma_clips", "select_grooves"]


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


def mma_clips(cap: int = 12, seconds: float = 20.0, kits: Sequence[str] = ACOUSTIC_HELD_OUT_KITS,
              parts: Sequence[str] = ("drums",), folders: Sequence[str] = MMA_FOLDERS,
              progress: bool = True) -> Iterator[MmaClip]:
    """Every selected groove of `folders` on every kit, as every part; needs `mma` and mido.

    The "full" part is only made for grooves that have an accompaniment: for the others it would be the
    drums again."""
    if not mma_available():
        raise RuntimeError("the MMA benchmark needs Debian's `mma` package: apt-get install mma")
    if unknown := set(parts) - set(PARTS):
        raise ValueError(f"unknown parts {sorted(unknown)}; choose from {PARTS}")
    if missing := [k for k in kits if not kit_available(k, SR)]:
        raise RuntimeError(f"kits not installed: {missing}")
    for groove in select_grooves(cap, seconds, folders, progress):
        for kit in kits:
            wanted = [p for p in parts if p == "drums" or groove.accompanied]
            for part, audio in render_groove(groove, kit, wanted, seconds).items():
                yield MmaClip(groove, kit, part, audio)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Select and render the MMA groove benchmark clips.")
    parser.add_argument("--cap", type=int, default=12, help="grooves per style at most")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--folders", nargs="+", default=list(MMA_FOLDERS), choices=MMA_FOLDERS)
    parser.add_argument("--list", action="store_true", help="only list the selected grooves")
    parser.add_argument("--out", type=Path, help="also write the clips as WAV files here")
    args = parser.parse_args()
    selection = select_grooves(args.cap, args.seconds, args.folders)
    for groove in selection:
        print(f"{groove.style:9} {groove.tempo:6.1f}  {groove.file}:{groove.name}")
    print(dict(Counter(g.style for g in selection)), f"{len(selection)} grooves;",
          "splits:", {split: [f for f in folders if f in args.folders] for split, folders in SOURCE_SPLITS.items()})
    if not args.list:
        for clip in mma_clips(args.cap, args.seconds, parts=PARTS, folders=args.folders):
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                soundfile.write(args.out / f"{clip.name}.wav", clip.audio, SR)
