"""Train the tempo-level model shipped in beat_selection/models/tempo_level.json.

    python bench/train_tempo_level.py [--per-style 12] [--seed 0] [--mma-per-file 2] [--mma-tempo-draws 3]
    python bench/train_tempo_level.py --attempts      # compare training recipes; writes no model
    python bench/train_tempo_level.py --prior [--seeds 0,1,2]   # the tempo classifier (models/tempo_prior.json)
    python bench/train_tempo_level.py --prior-attempts            # its recipes on the validation third; writes nothing

Three sources, every clip analysed up to its tempo-salience peaks; `fit_level_model` learns which peak is
the annotated tempo:

* generated grooves (bench/grooves.py, seed 0) of every style, as full mixes, drums only and without drums;
* the swing loops of bench/analysis.py (seed 0): loops at known swing settings, 8ths and 16ths;
* the half of Debian's MMA groove library that bench/analysis.py tunes on (`held_out_file` false), played
  with human timing (`humanise`: micro-timing per instrument, swing, tempo drift, velocity spread), each
  groove at `--mma-tempo-draws` tempos.

The benchmark (bench/analysis.py) measures the model on the other half of the MMA files, held out whole,
and on grooves and loops of seed 1, none of which this sees.

`--prior` trains the tempo classifier the level model's candidates are weighed with (`TempoPrior`: dilated
1-D convolutions over the band onset curves, a softmax over tempo classes), with torch (the training extra), on
the same clips' band curves (`attempt_clips`): 11.9 s windows, each stretched in time by 0.75-1.33 so a groove is
seen at many tempos, every MMA tempo draw of the tuning files. `--prior-attempts` prints its recipes' figures on the
validation third (and the held-out half of the chosen one, for the record).

`--attempts` compares recipes (more tempo draws, weights between sources, a wider hidden layer, a phase
feature, an ensemble of initialisations). Choices are made on a validation third of the *tuning* files
(`validation_file`, by another hash), fitted on the rest; each recipe is then refitted on all tuning files
and its figure on the held-out files printed beside it for the record, never to choose. Band onset curves are
computed once and kept in the per-user cache (`attempt_clips`), so a recipe costs only its fits.
"""
from __future__ import annotations

import argparse
import pickle
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from analysis import human_mma_set, swing_loops, tempo_hits  # noqa: E402
from grooves import BENCH_STYLES, groove_set  # noqa: E402

from beat_selection.core import cache_dir  # noqa: E402
from beat_selection.features import (BANDS, BPM_GRID, MODELS_DIR, PRIOR_BPM, PRIOR_WEIGHT, PRIOR_WINDOW,  # noqa: E402
                                     TEMPO_SLOPE, LevelModel, TempoPrior, band_novelty, beat_periods, compute_spectra,
                                     fit_level_model, level_features, prior_at, prior_input, salience_peaks, tempo_level_model,
                                     tempo_log_scores, tempo_salience)


def examples(clips: Iterable[tuple[np.ndarray, float]]) -> list[tuple[np.ndarray, np.ndarray]]:
    "(features of every salience peak, mask of peaks within 4 % of the labelled tempo) per (audio, bpm)."
    out = []
    for audio, bpm in clips:
        bands = band_novelty(compute_spectra(audio))
        salience = tempo_salience(sum(bands.values()))
        peaks = salience_peaks(salience)
        out.append((level_features(bands, salience, peaks), np.abs(BPM_GRID[peaks] / bpm - 1) <= 0.04))
    return out


# ------------------------------------------------------------------------------------------------ attempts

def validation_file(file: str) -> bool:
    "A third of the tuning files, set aside to choose between recipes (never the held-out half)."
    return zlib.crc32(f"tempo-val|{file}".encode()) % 3 == 0


def attempt_clips(max_draws: int = 6) -> dict[str, list[dict]]:
    "Labels and band onset curves of every clip the attempts use, computed once (per-user cache, written atomically)."
    path = cache_dir() / "bench" / f"tempo_attempts_v1_{max_draws}.pkl"
    if path.is_file():
        try:
            return pickle.loads(path.read_bytes())
        except Exception:
            pass  # a corrupt entry is rebuilt
    def curves(clips: Iterable[dict]) -> list[dict]:
        return [dict({k: v for k, v in c.items() if k != "audio"},
                     bands={b: v.astype(np.float32) for b, v in band_novelty(compute_spectra(c["audio"])).items()})
                for c in clips]
    sets = dict(
        grooves=curves(dict(bpm=c.bpm, style=c.style) | dict(audio=c.audio) for c in groove_set(12, 30.0, seed=0)),
        loops=curves(swing_loops(seed=0)),
        tuning=curves(human_mma_set(held_out=False, per_file=2, tempo_draws=max_draws)),
        held_out=curves(human_mma_set(held_out=True)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".tmp").write_bytes(pickle.dumps(sets))
    path.with_suffix(".tmp").replace(path)
    return sets


PHASES = 12  # points of the beat at which the phase feature folds each band


def phase_level_features(bands: dict[str, np.ndarray], salience: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """`level_features` plus, per band, how far the best phase of the candidate period stands out of the band's
    mean, and the half-period-off phase against it (autocorrelation is blind to phase: an off-beat hat and an
    on-beat one look alike there)."""
    period, extra = beat_periods(), []
    for i in peaks:
        row = []
        for b in BANDS:
            x = bands[b].astype(float)
            pos = (np.arange(PHASES) / PHASES * period[i])[:, None] + np.arange(int((len(x) - 1 - period[i]) // period[i]) + 1) * period[i]
            fold = np.interp(pos, np.arange(len(x)), x).mean(axis=1)
            best, mean = int(np.argmax(fold)), x.mean() + 1e-9
            off = fold[(best + PHASES // 2) % PHASES]
            row += [np.log2(fold[best] / mean + 1e-3), np.log2((off + 1e-3 * mean) / (fold[best] + 1e-3 * mean))]
        extra.append(row)
    return np.concatenate([level_features(bands, salience, peaks), np.array(extra)], axis=1)


Prepared = tuple[np.ndarray, np.ndarray, np.ndarray]  # features, correct-peak mask, peak tempi


def prepared(clips: list[dict], features: Callable) -> list[Prepared]:
    out = []
    for c in clips:
        bands = {b: v.astype(float) for b, v in c["bands"].items()}
        salience = tempo_salience(sum(bands.values()))
        peaks = salience_peaks(salience)
        out.append((features(bands, salience, peaks), np.abs(BPM_GRID[peaks] / c["bpm"] - 1) <= 0.04, BPM_GRID[peaks]))
    return out


def accuracy(models: list[LevelModel], data: list[Prepared], truths: list[float]) -> tuple[float, float]:
    "Acc1 and Acc2 (%) of the peak the models' mean probability picks."
    hits = []
    for (x, _, bpms), truth in zip(data, truths):
        estimate = bpms[np.argmax(np.mean([m.probabilities(x) for m in models], axis=0))]
        hits.append(tempo_hits(estimate, truth))
    return tuple(100 * np.mean(hits, axis=0))


ATTEMPTS: list[dict] = [  # the recipes compared, in the order they were tried
    dict(name="refit of the shipped recipe (3 tempo draws)"),
    dict(name="6 tempo draws per MMA groove", draws=6),
    dict(name="6 draws, MMA clips weighted twice", draws=6, mma_weight=2),
    dict(name="6 draws, 16 hidden units", draws=6, hidden=16),
    dict(name="phase feature, 3 draws", phase=True),
    dict(name="phase feature, 6 draws", phase=True, draws=6),
    dict(name="refit, initialisation seed 1", seeds=(1,)),
    dict(name="refit, initialisation seed 2", seeds=(2,)),
    dict(name="ensemble of 3 initialisations, 3 draws", seeds=(0, 1, 2)),
    dict(name="L2 penalty 1e-2 (ten times the shipped), 3 draws", l2=1e-2),
]


def run_attempts() -> None:
    sets = attempt_clips()
    shipped = tempo_level_model()
    print("| attempt | validation Acc1 / Acc2 (tuning files set aside) | held-out MMA Acc1 / Acc2 (refit on all tuning files) |")
    print("|---|---|---|")
    cache: dict[bool, dict[str, list[Prepared]]] = {}
    for attempt in [dict(name="shipped model (trained on all tuning files, validation third included)", shipped=True)] + ATTEMPTS:
        phase = attempt.get("phase", False)
        if phase not in cache:
            features = phase_level_features if phase else level_features
            cache[phase] = {name: prepared(clips, features) for name, clips in sets.items()}
        data = cache[phase]
        tuning, validation = sets["tuning"], [i for i, c in enumerate(sets["tuning"]) if validation_file(c["file"])]
        figures = []
        for final in (False, True):
            if attempt.get("shipped"):
                models = [shipped]
            else:
                chosen = [data["tuning"][i][:2] for i, c in enumerate(tuning)
                          if c["draw"] < attempt.get("draws", 3) and (final or not validation_file(c["file"]))]
                examples = [d[:2] for d in data["grooves"] + data["loops"]] + chosen * attempt.get("mma_weight", 1)
                models = [fit_level_model(examples, hidden=attempt.get("hidden", 8), l2=attempt.get("l2", 1e-3), seed=seed)
                          for seed in attempt.get("seeds", (0,))]
            if final:
                figures.append(accuracy(models, data["held_out"], [c["bpm"] for c in sets["held_out"]]))
            else:
                figures.append(accuracy(models, [data["tuning"][i] for i in validation], [tuning[i]["bpm"] for i in validation]))
        print(f"| {attempt['name']} | {figures[0][0]:.1f} / {figures[0][1]:.1f} | {figures[1][0]:.1f} / {figures[1][1]:.1f} |", flush=True)


# ------------------------------------------------------------------------------------------ tempo classifier

PRIOR_DILATIONS = [1, 2, 4, 8, 16, 32, 64]
PRIOR_STRETCH = (0.75, 1.33)  # time-stretch range of the training windows


class PriorNet(torch.nn.Module):
    "The torch twin of `TempoPrior`: same layers, so its weights are exported as they are."
    def __init__(self, channels: int = 24):
        super().__init__()
        layers, inputs = [], 3
        for d in PRIOR_DILATIONS:
            layers += [torch.nn.Conv1d(inputs, channels, 3, dilation=d, padding=d), torch.nn.ReLU()]
            inputs = channels
        self.body = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(2 * channels, len(PRIOR_BPM))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        return self.head(torch.cat([h.mean(-1), h.amax(-1)], 1))


def stretched_windows(x: np.ndarray, bpm: float, rng: np.random.Generator, n: int) -> tuple[list[np.ndarray], list[float]]:
    "`n` windows of `PRIOR_WINDOW` frames read from `x` at a random rate, and the tempo each then has."
    frames, windows, tempos = x.shape[1], [], []
    for _ in range(n):
        rate = 1.0
        for _ in range(20):
            r = float(np.exp(rng.uniform(*np.log(PRIOR_STRETCH))))
            if 45 <= bpm / r <= 240 and (PRIOR_WINDOW - 1) / r < frames - 1:
                rate = r
                break
        start = rng.uniform(0, max(frames - 1 - (PRIOR_WINDOW - 1) / rate, 0))
        at = start + np.arange(PRIOR_WINDOW) / rate
        windows.append(np.stack([np.interp(at, np.arange(frames), band) for band in x]))
        tempos.append(bpm / rate)
    return windows, tempos


def soft_targets(tempos: list[float]) -> np.ndarray:
    "A Gaussian one class wide around each tempo, over `PRIOR_BPM` (neighbouring classes are nearly right)."
    width = np.log(PRIOR_BPM[1] / PRIOR_BPM[0])
    t = np.exp(-0.5 * ((np.log(PRIOR_BPM)[None] - np.log(tempos)[:, None]) / width) ** 2)
    return t / t.sum(axis=1, keepdims=True)


def train_prior_network(clips: list[dict], seed: int = 0, epochs: int = 30, per_clip: int = 4,
                        channels: int = 24) -> PriorNet:
    "Train one network on (band curves, tempo) clips: `per_clip` stretched windows of each, drawn again every epoch."
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    data = [(prior_input({b: c["bands"][b].astype(float) for b in BANDS}), c["bpm"]) for c in clips]
    net, batch = PriorNet(channels), 64
    optimiser = torch.optim.AdamW(net.parameters(), 2e-3, weight_decay=1e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 3e-3, total_steps=epochs * -(-len(data) * per_clip // batch))
    for _ in range(epochs):
        windows, tempos = [], []
        for x, bpm in data:
            w, t = stretched_windows(x, bpm, rng, per_clip)
            windows += w
            tempos += t
        x_all = torch.tensor(np.array(windows), dtype=torch.float32)
        y_all = torch.tensor(soft_targets(tempos), dtype=torch.float32)
        order = rng.permutation(len(x_all))
        for i in range(0, len(order), batch):
            rows = order[i:i + batch]
            loss = -(torch.log_softmax(net(x_all[rows]), 1) * y_all[rows]).sum(1).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return net.eval()


def as_prior(nets: list[PriorNet]) -> TempoPrior:
    "The networks as the NumPy `TempoPrior` the analysis runs."
    def arrays(net: PriorNet) -> dict[str, list[np.ndarray]]:
        convs = [m for m in net.body if isinstance(m, torch.nn.Conv1d)]
        return {"weights": [c.weight.detach().numpy().copy() for c in convs],
                "biases": [c.bias.detach().numpy().copy() for c in convs],
                "head": [net.head.weight.detach().numpy().copy(), net.head.bias.detach().numpy().copy()]}
    return TempoPrior([arrays(n) for n in nets], list(PRIOR_DILATIONS))


def prior_training_clips(sets: dict[str, list[dict]], leave_out_validation: bool) -> list[dict]:
    "Generated grooves, swing loops and every tempo draw of the MMA tuning files (less the validation third if asked)."
    tuning = [c for c in sets["tuning"] if not (leave_out_validation and validation_file(c["file"]))]
    return sets["grooves"] + sets["loops"] + tuning


def level_and_prior_accuracy(level: list[LevelModel], prior: TempoPrior | None, weight: float,
                             clips: list[dict], data: list[Prepared], slope: float = 0.0) -> tuple[float, float]:
    """Acc1 / Acc2 (%) of the candidate the level models' mean probability and the classifier pick together (either
    alone), scored by `tempo_log_scores` as `estimate_tempo` does; `slope` 0: the attempts as they were run."""
    hits = []
    for c, (x, _, bpms) in zip(clips, data):
        level_scores = (np.log(np.mean([m.probabilities(x) for m in level], axis=0) + 1e-12) if level
                        else np.zeros(len(bpms)))
        classifier = (prior_at(prior.log_probabilities({b: v.astype(float) for b, v in c["bands"].items()}), bpms)
                      if prior is not None and weight else None)
        estimate = bpms[np.argmax(tempo_log_scores(level_scores, classifier, np.asarray(bpms), weight, slope))]
        hits.append(tempo_hits(estimate, c["bpm"]))
    return tuple(100 * np.mean(hits, axis=0))


PRIOR_ATTEMPTS: list[dict] = [  # the classifier recipes compared, in the order they were tried
    dict(name="one network, 24 channels, 30 epochs", seeds=(0,)),
    dict(name="three networks (seeds 0-2), 24 channels, 30 epochs", seeds=(0, 1, 2)),
    dict(name="one network, 32 channels, 60 epochs", seeds=(0,), channels=32, epochs=60),
]
PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)


def run_prior_attempts() -> None:
    sets = attempt_clips()
    torch.set_num_threads(2)
    data = {name: prepared(clips, level_features) for name, clips in sets.items()}
    fitted = [i for i, c in enumerate(sets["tuning"]) if c["draw"] < 3 and not validation_file(c["file"])]
    level = [fit_level_model([d[:2] for d in data["grooves"] + data["loops"]] + [data["tuning"][i][:2] for i in fitted], seed=0)]
    chosen = [i for i, c in enumerate(sets["tuning"]) if validation_file(c["file"])]
    clips, prepared_clips = [sets["tuning"][i] for i in chosen], [data["tuning"][i] for i in chosen]
    print(f"validation third: {len(clips)} clips; level model refitted without it (3 draws, seed 0)")
    print("| classifier | alone (over the candidates) | " + " | ".join(f"weight {w}" for w in PRIOR_WEIGHTS) + " |")
    print("|---|---|" + "---|" * len(PRIOR_WEIGHTS))
    for attempt in PRIOR_ATTEMPTS:
        nets = [train_prior_network(prior_training_clips(sets, True), seed, attempt.get("epochs", 30),
                                    channels=attempt.get("channels", 24)) for seed in attempt["seeds"]]
        prior = as_prior(nets)
        alone = level_and_prior_accuracy([], prior, 1.0, clips, prepared_clips)
        cells = [level_and_prior_accuracy(level, prior, w, clips, prepared_clips) for w in PRIOR_WEIGHTS]
        print(f"| {attempt['name']} | {alone[0]:.1f} / {alone[1]:.1f} | " + " | ".join(f"{a:.1f} / {b:.1f}" for a, b in cells) + " |", flush=True)


def train_prior(seeds: list[int]) -> None:
    "Train the shipped classifier on every tuning file, write it, and print the held-out half's figures for the record."
    start, sets = time.time(), attempt_clips()
    torch.set_num_threads(2)
    clips = prior_training_clips(sets, leave_out_validation=False)
    prior = as_prior([train_prior_network(clips, seed) for seed in seeds])
    held_out = sets["held_out"]
    data = prepared(held_out, level_features)
    with_prior = level_and_prior_accuracy([tempo_level_model()], prior, PRIOR_WEIGHT, held_out, data, TEMPO_SLOPE)
    without = level_and_prior_accuracy([tempo_level_model()], None, 0.0, held_out, data)
    prior.card = dict(
        purpose="probability of each tempo class (PRIOR_BPM) from the band onset curves; weighs the level model's candidates",
        data=f"bench/train_tempo_level.py attempt_clips(): generated grooves (seed 0, 12 per style, full / drums / harmony, "
             f"{len(sets['grooves'])} clips), swing loops (seed 0, {len(sets['loops'])}), MMA grooves with human timing, "
             f"the tuning half of the library files, 6 tempo draws ({len(sets['tuning'])}); windows of {PRIOR_WINDOW} frames "
             f"stretched by {PRIOR_STRETCH[0]}-{PRIOR_STRETCH[1]}",
        networks=len(seeds), seeds=seeds, epochs=30, channels=24, dilations=PRIOR_DILATIONS,
        chosen_on="the validation third of the tuning files (bench/train_tempo_level.py --prior-attempts)",
        held_out="bench/analysis.py --held-out-only measures the analysis on the MMA files held out whole, never seen here")
    path = MODELS_DIR / "tempo_prior.json"
    prior.save(path)
    print(f"{len(clips)} clips in {time.time() - start:.0f} s; wrote {path}")
    print(f"held-out MMA ({len(held_out)} clips, for the record): with the classifier Acc1 / Acc2 {with_prior[0]:.1f} / "
          f"{with_prior[1]:.1f}, level model alone {without[0]:.1f} / {without[1]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-style", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--mma-per-file", type=int, default=2)
    parser.add_argument("--mma-tempo-draws", type=int, default=3)
    parser.add_argument("--l2", type=float, default=1e-3)
    parser.add_argument("--hidden", type=int, default=8)
    parser.add_argument("--attempts", action="store_true", help="compare training recipes (see above); writes no model")
    parser.add_argument("--prior", action="store_true", help="train the tempo classifier (models/tempo_prior.json)")
    parser.add_argument("--seeds", default="0,1,2", help="--prior: one network per seed, averaged")
    parser.add_argument("--prior-attempts", action="store_true", help="the classifier's recipes on the validation third")
    args = parser.parse_args()
    if args.attempts:
        run_attempts()
        return
    if args.prior_attempts:
        run_prior_attempts()
        return
    if args.prior:
        train_prior([int(s) for s in args.seeds.split(",")])
        return
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
