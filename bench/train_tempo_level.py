"""Train the tempo-level model shipped in beat_selection/models/tempo_level.json.

    python bench/train_tempo_level.py [--per-style 12] [--seed 0]

Generated grooves (bench/grooves.py) of every style, as full mixes, drums only and without drums, are
analysed up to their tempo-salience peaks; `fit_level_model` learns which peak is the annotated tempo.
The benchmark (bench/analysis.py) uses seed 1, which this never sees.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from grooves import BENCH_STYLES, groove_set  # noqa: E402

from beat_selection.features import (BPM_GRID, MODELS_DIR, band_novelty, compute_spectra,  # noqa: E402
                                     fit_level_model, level_features, salience_peaks, tempo_salience)


def examples(per_style: int, seed: int, seconds: float) -> list[tuple[np.ndarray, np.ndarray]]:
    "(features of every salience peak, mask of peaks within 4 % of the labelled tempo) per clip."
    out = []
    for clip in groove_set(per_style, seconds, seed=seed):
        bands = band_novelty(compute_spectra(clip.audio))
        salience = tempo_salience(sum(bands.values()))
        peaks = salience_peaks(salience)
        out.append((level_features(bands, salience, peaks), np.abs(BPM_GRID[peaks] / clip.bpm - 1) <= 0.04))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-style", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--l2", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=8)
    args = parser.parse_args()
    start = time.time()
    data = examples(args.per_style, args.seed, args.seconds)
    model = fit_level_model(data, hidden=args.hidden, l2=args.l2, seed=args.seed)
    chosen_right = [y[np.argmax(model.probabilities(x))] for x, y in data]
    model.card = dict(
        purpose="choose the metrical level (the tapped tempo) among tempo-salience peaks",
        data=f"bench/grooves.py groove_set(n_per_style={args.per_style}, seconds={args.seconds}, seed={args.seed}): "
             f"{len(BENCH_STYLES)} styles x full / drums / harmony stems",
        clips=len(data), clips_with_a_correct_peak=int(sum(y.any() for _, y in data)), hidden_units=args.hidden, l2=args.l2,
        training_acc1=round(float(np.mean(chosen_right)), 4),
        held_out="bench/analysis.py measures it on seed 1 grooves, never seen here")
    path = MODELS_DIR / "tempo_level.json"
    model.save(path)
    print(f"{len(data)} clips in {time.time() - start:.0f} s; training Acc1 {model.card['training_acc1']:.3f}; wrote {path}")


if __name__ == "__main__":
    main()
