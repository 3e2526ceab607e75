"""Does the default catalogue offer real choice? For a track of any style, at any tempo from 60 to 180 BPM and in
any of the 24 keys, the share of queries whose top 5 holds at least 3 beats of the style the track was recognised
as, printed as a markdown report for bench/RESULTS.md.

    python bench/catalogue_choice.py [--start 1000] [--seconds 20] [--tempos 24]

Tracks: full mixes from our generator, every style in all 24 keys, each key at its own tempo spread evenly over
60-180 BPM (the order of tempos differs from style to style), at seeds from 3 000 000 + `--start` on (away from
the training seeds, 0 and up, the held-out ones, 1 000 000 and up, and the default catalogue's, 5 000 000 and
up), drawn from the held-out kits (sampled kits the style model never heard, where Debian's packages are
installed, else the synthesized kit); plus `data/sample.wav`. The tempo constants of the replayed beats'
score (`RANGE_FLOOR`, `RANGE_SPREAD`) were chosen on the tracks of `--start 0` (floors 0.8-1.0, widths 0.1 and
0.2 tried: 302 to 327 of 336; 0.9 and 0.2 reach 326, one short of no tempo preference at all); the default
measures on other seeds.

"Recognised" is the style model's first choice for the track (which is not always the style it was generated
as: that rate is printed too). Both catalogues are scored by `recommend`, in the same run:

- before: the plan before grooves (CATALOGUE_VERSION 2: the same tempos, keys and seeds, each beat's groove
  drawn from its seed), scored as fixed audio (its tempo and key are those it was made at);
- after: the shipped default catalogue (a distinct groove per beat, made again at the track's tempo and key),
  by the score alone and as `recommend` answers, three of the five places kept for the recognised style
  (`recommend.top_matches`). "Before" is by the score alone, as it was served.

There is no plain-librosa baseline for this measure: it is about the catalogue and the score, not the analysis.
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse
import dataclasses
import platform
import shlex
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from beat_selection.audio import load_audio
from beat_selection.beats import HELD_OUT_KITS, BeatSpec, generate_beat
from beat_selection.catalogue import (ALL_KEYS, CATALOGUE_VERSION, DEFAULT_INDEX_PATH, default_describe, default_plan,
                                      read_index, render_planned)
from beat_selection.core import STYLE_IDS, STYLE_NAMES
import beat_selection.recommend as ranking
from beat_selection.recommend import RANGE_FLOOR, RANGE_SPREAD, CatalogueIndex, Query, recommend

TOP, ENOUGH = 5, 3
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample.wav"


def track_grid(tempos: int) -> list[tuple[str, float, str]]:
    "(style, bpm, key): every style in every key, each key at its own tempo of `tempos` spread over 60-180 BPM."
    grid = []
    for s, style in enumerate(STYLE_IDS):
        for k, key in enumerate(ALL_KEYS):
            slot = (k * 7 + s * 5) % tempos  # 7 is prime to 24: a style's keys visit the tempos in its own order
            grid.append((style, round(60 + 120 * (slot + 0.5) / tempos, 1), key))
    return grid


def before_index() -> CatalogueIndex:
    "The plan before grooves, generated and described now, as beats of fixed audio."
    records = []
    for planned in default_plan(24):
        record, _ = render_planned((planned._replace(groove=None), default_describe, "flac"))
        records.append(dataclasses.replace(record, seed=None))  # no seed: scored by its stored tempo and key
    return CatalogueIndex.from_records(records)


def share_of_style(query: Query, index: CatalogueIndex, places_kept: bool = True) -> int:
    "How many of the top 5 are of the style the track was recognised as (by the score alone unless `places_kept`)."
    shipped_share = ranking.RECOGNISED_SHARE
    ranking.RECOGNISED_SHARE = shipped_share if places_kept else 0.0
    try:
        answer = recommend(query, index, top_k=TOP)
    finally:
        ranking.RECOGNISED_SHARE = shipped_share
    return sum(m.beat.style == answer.style for m in answer.matches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", type=int, default=1000, help="first track seed after 3 000 000 (0: the tuning set)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--tempos", type=int, default=24, help="tempo slots over 60-180 BPM")
    parser.add_argument("--limit", type=int, default=0, help="only the first N tracks (a quick look)")
    args = parser.parse_args()

    started = time.perf_counter()
    header, shipped = read_index(DEFAULT_INDEX_PATH)
    after = CatalogueIndex.from_records(shipped)
    assert after.replayable.all(), "the shipped index holds beats that are not the default plan's"
    before = before_index()
    built = time.perf_counter() - started

    grid = track_grid(args.tempos)[: args.limit or None]
    rows = []
    for n, (style, bpm, key) in enumerate(grid):
        beat = generate_beat(BeatSpec(style, bpm=bpm, key=key, seconds=args.seconds), 3_000_000 + args.start + n,
                             kits=HELD_OUT_KITS)
        query = Query(*default_describe(beat.audio))
        rows.append(dict(style=style, bpm=bpm, key=key, recognised=query.prediction.style,
                         found_bpm=query.analysis.tempo, before=share_of_style(query, before, False),
                         score=share_of_style(query, after, False), after=share_of_style(query, after)))
    sample = Query(*default_describe(load_audio(SAMPLE)))
    sample_row = dict(style="afro", bpm=0.0, key="", recognised=sample.prediction.style, found_bpm=sample.analysis.tempo,
                      before=share_of_style(sample, before, False), score=share_of_style(sample, after, False),
                      after=share_of_style(sample, after))
    elapsed = time.perf_counter() - started

    def rate(selected: list[dict], which: str) -> str:
        hits = sum(r[which] >= ENOUGH for r in selected)
        return f"{hits}/{len(selected)} ({100 * hits / max(len(selected), 1):.1f} %)"

    print(f"### Catalogue choice (`bench/catalogue_choice.py`)\n")
    print(f"```bash\npython bench/{Path(__file__).name} {shlex.join(sys.argv[1:])}\n```\n")
    print(f"{len(rows)} generated tracks (14 styles × 24 keys, tempos 60-180 BPM, seeds 3 000 000 + {args.start}..., "
          f"held-out kits) and data/sample.wav; catalogue v{CATALOGUE_VERSION} ({len(shipped)} beats, "
          f"{len({r.style for r in shipped})} styles); RANGE_FLOOR {RANGE_FLOOR}, RANGE_SPREAD {RANGE_SPREAD}. "
          f"{platform.machine()}, {elapsed / 60:.1f} min (catalogue before grooves built in {built / 60:.1f} min).\n")
    print("| queries | ≥ 3 of the top 5 of the recognised style: before (one beat per key, fixed audio) | "
          "grooves made again, by the score alone | the same, 3 places kept (as served) |")
    print("|---|---|---|---|")
    print(f"| all generated tracks | {rate(rows, 'before')} | {rate(rows, 'score')} | {rate(rows, 'after')} |")
    for low, high in ((60, 90), (90, 120), (120, 150), (150, 180)):
        band = [r for r in rows if low <= r["bpm"] < high or (high == 180 and r["bpm"] == 180)]
        print(f"| tracks at {low}-{high} BPM | {rate(band, 'before')} | {rate(band, 'score')} | {rate(band, 'after')} |")
    print(f"| data/sample.wav (recognised as {STYLE_NAMES[sample_row['recognised']]}) | {sample_row['before']} of 5 | "
          f"{sample_row['score']} of 5 | {sample_row['after']} of 5 |")
    recognised_right = sum(r["recognised"] == r["style"] for r in rows)
    print(f"\nThe style model recognised the generated style on {recognised_right}/{len(rows)} tracks "
          f"({100 * recognised_right / max(len(rows), 1):.1f} %); the measure is against what it recognised.\n")
    print("By recognised style (after): " + ", ".join(
        f"{STYLE_NAMES[s]} {sum(r['after'] >= ENOUGH for r in rows if r['recognised'] == s)}/"
        f"{sum(r['recognised'] == s for r in rows)}" for s in STYLE_IDS if any(r["recognised"] == s for r in rows)))
    misses = Counter((r["recognised"], r["after"]) for r in rows if r["after"] < ENOUGH)
    if misses:
        print("\nMisses after (recognised style, how many of its beats in the top 5): "
              + ", ".join(f"{s} {k}: {c}" for (s, k), c in sorted(misses.items())) + "\n")
        for r in rows:
            if r["after"] < ENOUGH:
                print(f"- {r['style']} {r['bpm']} BPM {r['key']}: read {r['found_bpm']:.1f} BPM, recognised "
                      f"{r['recognised']}, {r['after']} of 5")


if __name__ == "__main__":
    main()
