"""Train the tempo-level model shipped in beat_selection/models/tempo_level.json.

    python bench/train_tempo_level.py [--per-style 12] [--seed 0] [--mma-per-file 2] [--mma-tempo-draws 3]

Three sources, every clip analysed up to its tempo-salience peaks; `fit_level_model` learns which peak is
the annotated tempo:

* generated grooves (bench/grooves.py, seed 0) of every style, as full mixes, drums only and without drums;
* the swing loops of bench/analysis.py (seed 0): loops at known swing settings, 8ths and 16ths;
* the half of Debian's MMA groove library that bench/analysis.py tunes on (`held_out_file` false), played
  with human timing (`humanise`: micro-timing per instrument, swing, tempo drift, velocity spread), each
  groove at `--mma-tempo-draws` tempos.

The benchmark (bench/analysis.py) measures the model on the other half of the MMA files, held out whole,
and on grooves and loops of seed 1, none of which this sees.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from analysis import human_mma_set, swing_loops  # noqa: E402
from grooves import BENCH_STYLES, groove_set  # noqa: E402

from beat_selection.features import (BPM_GRID, MODELS_DIR, band_novelty, compute_spectra,  # noqa: E402
                                     fit_level_model, level_features, salience_peaks, tempo_salience)


def examples(clips: Iterable[tuple[np.ndarray, float]]) -> list[tuple[np.ndarray, np.ndarray]]:
    "(features of every salience peak, mask of peaks within 4 % of the labelled tempo) per (audio, bpm)."
    out = []
    for audio, bpm in clips:
        bands = band_novelty(compute_spectra(audio))
        salience = tempo_salience(sum(bands.values()))
        peaks = salience_peaks(salience)
        out.append((level_features(bands, salience, peaks), np.abs(BPM_GRID[peaks] / bpm - 1) <= 0.04))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-style", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--mma-per-file", type=int, default=2)
    parser.add_argument("--mma-tempo-draws", type=int, default=3)
    parser.add_argument("--l2", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=8)
    args = parser.parse_args()
    start = time.time()
    grooves = examples((c.audio, c.bpm) for c in groove_set(args.per_style, args.seconds, seed=args.seed))
    loops = examples((c["audio"], c["bpm"]) for c in swing_loops(seed=args.seed))
    mma = examples((c["audio"], c["bpm"]) for c in human_mma_set(
        held_out=False, per_file=args.mma_per_file, tempo_draws=args.mma_tempo_draws))
    data = grooves + loops + mma
    model = fit_level_model(data, hidden=args.hidden, l2=args.l2, seed=args.seed)
    chosen_right = [y[np.argmax(model.probabilities(x))] for x, y in data]
    model.card = dict(
        purpose="choose the metrical level (the tapped tempo) among tempo-salience peaks",
        data=f"bench/grooves.py groove_set(n_per_style={args.per_style}, seconds={args.seconds}, seed={args.seed}): "
             f"{len(BENCH_STYLES)} styles x full / drums / harmony stems ({len(grooves)} clips); bench/analysis.py "
             f"swing_loops(seed={args.seed}) ({len(loops)} clips); human_mma_set(held_out=False, "
             f"per_file={args.mma_per_file}, tempo_draws={args.mma_tempo_draws}): MMA grooves with human timing, "
             f"the tuning half of the library files ({len(mma)} clips)",
        clips=len(data), clips_with_a_correct_peak=int(sum(y.any() for _, y in data)), hidden_units=args.hidden, l2=args.l2,
        training_acc1=round(float(np.mean(chosen_right)), 4),
        held_out="bench/analysis.py measures it on the MMA files held out whole (the other half), and on seed-1 "
                 "grooves and loops, never seen here")
    path = MODELS_DIR / "tempo_level.json"
    model.save(path)
    print(f"{len(data)} clips in {time.time() - start:.0f} s; training Acc1 {model.card['training_acc1']:.3f}; wrote {path}")


if __name__ == "__main__":
    main()
