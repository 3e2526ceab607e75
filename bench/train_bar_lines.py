"""Train the bar-line scorer of the mix, shipped in beat_selection/models/bar_lines.json (`audition.BarLineModel`).

    python bench/train_bar_lines.py [--per-style 80] [--networks 3] [--epochs 30] [--workers 2]

Training clips: generated beats of every style, 16 s each, cut to start in the middle of a bar, so their bar
lines are known (`audition.bar_lines`): `--per-style` on the synthesized kit (seeds 30 000 on) and as many on the
sampled training kits (`beats.TRAIN_KITS`, seeds 40 000 on; Debian's SoundFont and Hydrogen kit packages). Each
clip is analysed with `features.analyze`; every start of its first two bars is a candidate (`bar_line_inputs`),
and the starts within 20 ms of a true bar line are the answer. Each network learns a score per start so that a
softmax over the clip's starts puts its weight on the answer (a listwise loss, as in learning to rank);
`--networks` of them, seeds 0 on, are averaged.

Tuning clips (seeds 9000 and 11 000 on, 3 per style, the synthesized kit: the clips the settings were chosen on)
are printed with the share where the best start is within 20 ms of a true bar line. The figure to report is
`bench/audition.py --sections alignment` (seeds 7000 on), which this never sees.

Needs the training extra (torch). The clips' inputs are cached in the per-user cache folder.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

from beat_selection.audio import DEFAULT_SR
from beat_selection.audition import ALIGN_HOP, BAR_LINE_MODEL_PATH, BarLineModel, bar_line_inputs, bar_lines
from beat_selection.beats import GENERATOR_VERSION, TRAIN_KITS, BeatSpec, generate_beat
from beat_selection.catalogue import DEFAULT_KITS
from beat_selection.core import STYLE_IDS, cache_dir, parallel_map
from beat_selection.features import analyze
from beat_selection.model import analysis_version

CLIP_SECONDS = 16.0
TOLERANCE = 0.02  # seconds: a start this close to a true bar line is one
SOURCES = {"synth": (30_000, DEFAULT_KITS), "training kits": (40_000, TRAIN_KITS)}
TUNING_FIRST_SEEDS = (9000, 11_000)
# the recipe of the shipped scorer (chosen on the tuning clips)
HIDDEN, DROPOUT, JITTER, WEIGHT_DECAY = 24, 0.2, 0.05, 1e-3


def clip_example(job: tuple[str, int, tuple[str, ...]]) -> tuple[np.ndarray, np.ndarray]:
    "(inputs of every start, distance of each start to the nearest true bar line) for one generated clip."
    style, seed, kits = job
    spec = BeatSpec(style, seconds=CLIP_SECONDS)
    clip = generate_beat(spec, seed, kits=kits)
    truth = bar_lines(spec, seed, kits)
    starts, inputs = bar_line_inputs(clip.audio, analyze(clip.audio))
    seconds = starts * ALIGN_HOP / DEFAULT_SR
    return inputs, np.abs(seconds[:, None] - truth[None]).min(axis=1).astype(np.float32)


def examples(jobs: list[tuple[str, int, tuple[str, ...]]], workers: int, name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    "The clips' examples, read from the per-user cache when the generator, the analysis and the kits are the same."
    key = json.dumps([GENERATOR_VERSION, analysis_version(), CLIP_SECONDS, jobs]).encode()
    path = cache_dir() / "bench" / f"bar_lines-{name}-{hashlib.sha1(key).hexdigest()[:12]}.npz"
    if path.is_file():
        try:
            with np.load(path) as saved:
                return [(saved[f"x{i}"], saved[f"d{i}"]) for i in range(len(jobs))]
        except (OSError, ValueError, KeyError):  # a damaged entry is built again
            pass
    rows = list(parallel_map(clip_example, jobs, workers, True, desc=name))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{time.time_ns()}.tmp.npz")
    np.savez(partial, **{f"x{i}": x for i, (x, _) in enumerate(rows)}, **{f"d{i}": d for i, (_, d) in enumerate(rows)})
    partial.replace(path)  # written whole, then moved: a reader never sees half an entry
    return rows


def train_network(rows: list[tuple[np.ndarray, np.ndarray]], mean: np.ndarray, scale: np.ndarray, seed: int,
                  epochs: int) -> dict[str, np.ndarray]:
    "One network, trained with a listwise softmax loss over each clip's starts; its weights for `BarLineModel`."
    import torch
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = torch.nn.Sequential(torch.nn.Dropout(DROPOUT), torch.nn.Linear(len(mean), HIDDEN), torch.nn.ReLU(),
                              torch.nn.Dropout(DROPOUT), torch.nn.Linear(HIDDEN, 1))
    optimiser = torch.optim.Adam(net.parameters(), 1e-3, weight_decay=WEIGHT_DECAY)
    clips = [(torch.tensor((x - mean) / scale, dtype=torch.float32), torch.tensor(d <= TOLERANCE))
             for x, d in rows if (d <= TOLERANCE).any()]
    for _ in range(epochs):
        net.train()
        for i in rng.permutation(len(clips)):
            x, answer = clips[i]
            scores = net(x + JITTER * torch.randn_like(x)).squeeze(1)  # jitter: the inputs of a real track are noisier
            loss = torch.logsumexp(scores, 0) - torch.logsumexp(scores[answer], 0)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    first, last = net[1], net[4]
    return {"hidden": first.weight.detach().numpy().astype(np.float64), "hidden_bias": first.bias.detach().numpy().astype(np.float64),
            "out": last.weight.detach().numpy()[0].astype(np.float64), "out_bias": last.bias.detach().numpy().astype(np.float64)}


def found_share(model: BarLineModel, rows: list[tuple[np.ndarray, np.ndarray]]) -> float:
    "Share of clips whose best-scored start is within `TOLERANCE` of a true bar line."
    return float(np.mean([d[int(np.argmax(model.scores(x)))] <= TOLERANCE for x, d in rows]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-style", type=int, default=80, help="training clips per style and kit source")
    parser.add_argument("--networks", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2, help="processes generating and analysing clips")
    parser.add_argument("--out", type=Path, default=BAR_LINE_MODEL_PATH)
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("bench/train_bar_lines.py trains with torch: pip install -e '.[train]'")
    started = time.time()
    training = []
    for name, (first_seed, kits) in SOURCES.items():
        jobs = [(style, first_seed + 100 * s + i, tuple(kits)) for s, style in enumerate(STYLE_IDS) for i in range(args.per_style)]
        training += examples(jobs, args.workers, name.replace(" ", "-"))
    tuning_jobs = [(style, first + 100 * s + i, tuple(DEFAULT_KITS)) for first in TUNING_FIRST_SEEDS
                   for s, style in enumerate(STYLE_IDS) for i in range(3)]
    tuning = examples(tuning_jobs, args.workers, "tuning")
    stacked = np.concatenate([x for x, _ in training])
    mean, scale = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6
    torch.set_num_threads(1)
    members = []
    for seed in range(args.networks):
        members.append(train_network(training, mean, scale, seed, args.epochs))
        alone = found_share(BarLineModel(mean, scale, members[-1:]), tuning)
        print(f"network {seed}: bar line found on {alone:.1%} of the {len(tuning)} tuning clips", flush=True)
    card = {"trained": str(date.today()), "torch": torch.__version__, "machine": platform.machine(),
            "data": {"clips": len(training), "seconds": CLIP_SECONDS, "sources": {
                name: {"first_seed": first, "kits": list(kits), "per_style": args.per_style} for name, (first, kits) in SOURCES.items()},
                "generator_version": GENERATOR_VERSION, "analysis_version": analysis_version(),
                "answer": f"starts within {TOLERANCE * 1000:.0f} ms of a true bar line"},
            "settings": {"networks": args.networks, "epochs": args.epochs, "hidden": HIDDEN, "dropout": DROPOUT, "jitter": JITTER,
                         "weight_decay": WEIGHT_DECAY, "loss": "listwise softmax over a clip's starts"}}
    model = BarLineModel(mean, scale, members, card)
    card["tuning"] = {"clips": len(tuning), "first_seeds": list(TUNING_FIRST_SEEDS), "found_share": round(found_share(model, tuning), 4)}
    model.save(args.out)
    print(f"{args.networks} networks averaged: bar line found on {card['tuning']['found_share']:.1%} of the tuning clips; "
          f"written to {args.out} in {(time.time() - started) / 60:.1f} min")


if __name__ == "__main__":
    main()
