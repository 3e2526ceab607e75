"""Accuracy and speed of the shipped style model, printed as a markdown report for bench/RESULTS.md.

    python bench/model.py [--quick] [--cap 12] [--seconds 20] [--no-full] [--repeats 7]

1. **Held-out generated split**: `beat_selection.beats.build_dataset(style_inputs, "held_out", ...)` with the
   model card's own settings, so it reads the cache the training wrote: beats of seeds and kits the model
   never trained on. Top-1 (targets: all >= 95 %, drums only >= 85 %, no drums >= 70 %), top-3, macro-F1.
2. **Third-party grooves** (`bench/mma_grooves.py`, needs `apt-get install mma`): drum patterns from
   Debian's MMA groove library, programmed by others, mapped to our taxonomy by file name and rendered on
   the acoustic held-out kits. Targets are those set for real performances: top-1 >= 75 %,
   top-3 >= 92 %. Drums only is the primary measure; "full" adds MMA's own accompaniment.
3. **Speed** on one core, for a 30 s clip: CPU ms (`time.process_time`, median of `--repeats` runs, numba
   compiled and the model loaded before the clock starts) of `analyze()`, and of `model_inputs()` (reusing the
   analysis' spectrogram, as `describe` does) +
   `predict()` on top of it (target <= 20 ms), beside plain librosa (`beat_track` + `chroma_cqt`) on the
   same clip.

The model is whatever is shipped in beat_selection/models/ when the script runs.
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # "one core": set before numpy loads its BLAS

import argparse
import hashlib
import platform
import shlex
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path
from collections.abc import Callable, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import mma_grooves

from beat_selection.beats import HELD_OUT_KITS, PARTS, STYLE_IDS, BeatSpec, build_dataset, generate_beat
from beat_selection.features import analyze, analyze_with_spectra
from beat_selection.model import (STYLE_CARD_PATH, STYLE_MODEL_PATH, StyleModel, describe, model_card,
                                  model_inputs, style_inputs)

HELD_OUT_TARGETS = {"all": 95.0, "drums": 85.0, "no_drums": 70.0}
MMA_TARGETS = {"top1": 75.0, "top3": 92.0}
INFERENCE_TARGET_MS = 20.0


# ------------------------------------------------------------------------------------------------ metrics

def _labels(styles: Sequence[str]) -> np.ndarray:
    return np.array([STYLE_IDS.index(s) for s in styles])


def scores(probabilities: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Top-1 and top-3 (%), and macro-F1 (%) over the styles present in `truth`.

    Predictions of styles absent from `truth` still count against recall (and so against F1), never for it.
    """
    predicted = probabilities.argmax(1)
    top3 = (np.argsort(-probabilities, axis=1)[:, :3] == truth[:, None]).any(1)
    f1 = []
    for style in np.unique(truth):
        tp = np.sum((predicted == style) & (truth == style))
        precision, recall = tp / max(np.sum(predicted == style), 1), tp / np.sum(truth == style)
        f1.append(2 * precision * recall / max(precision + recall, 1e-12))
    return {"n": len(truth), "top1": 100 * float(np.mean(predicted == truth)),
            "top3": 100 * float(np.mean(top3)), "macro_f1": 100 * float(np.mean(f1))}


def _pass(value: float, target: float | None, higher_is_better: bool = True) -> str:
    if target is None:
        return ""
    ok = value >= target if higher_is_better else value <= target
    return f"{'≥' if higher_is_better else '≤'} {target:g}: {'yes' if ok else '**no**'}"


def confusions(probabilities: np.ndarray, truth: np.ndarray, top: int = 10) -> list[tuple[str, str, int, int]]:
    "The most frequent (true style, predicted style, count, clips of the true style) errors."
    predicted = probabilities.argmax(1)
    errors = Counter((STYLE_IDS[t], STYLE_IDS[p]) for t, p in zip(truth, predicted) if t != p)
    totals = Counter(STYLE_IDS[t] for t in truth)
    return [(t, p, n, totals[t]) for (t, p), n in errors.most_common(top)]


# ------------------------------------------------------------------------------------------------ measures

def held_out_report(model: StyleModel, card: dict, workers: int) -> list[str]:
    per_style, seconds = card["data"]["held_out_per_style"], card["data"]["seconds"]
    started = time.time()
    data = build_dataset(style_inputs, "held_out", per_style, seconds, workers=workers)
    probabilities, _ = model.predict_batch(data["features"], data["patch"])
    truth = _labels(data["style"])
    lines = [(f"## Held-out generated split ({per_style} beats per style × {len(PARTS)} parts, {seconds:g} s, "
              f"kits {', '.join(HELD_OUT_KITS)})"), "",
             (f"`build_dataset(style_inputs, \"held_out\", {per_style}, {seconds:g})`: the card's settings "
              f"(loaded or built in {time.time() - started:.0f} s)."), "",
             "| part | n | top-1 % | top-3 % | macro-F1 % | target (top-1) |", "|---|---|---|---|---|---|"]
    for part in ("all", *PARTS):
        rows = np.ones(len(truth), bool) if part == "all" else data["part"] == part
        s = scores(probabilities[rows], truth[rows])
        lines.append(f"| {part} | {s['n']} | {s['top1']:.1f} | {s['top3']:.1f} | {s['macro_f1']:.1f} | "
                     f"{_pass(s['top1'], HELD_OUT_TARGETS.get(part))} |")
    card_accuracy = card.get("metrics", {}).get("held_out", {}).get("accuracy")
    if card_accuracy is not None:
        lines += ["", f"The model card reports {100 * card_accuracy:.1f} % top-1 on the same split."]
    lines += ["", "Recall per style (%):", "", "| style | " + " | ".join(PARTS) + " |",
              "|---|" + "---|" * len(PARTS)]
    predicted = probabilities.argmax(1)
    for i, style in enumerate(STYLE_IDS):
        cells = []
        for part in PARTS:
            rows = (truth == i) & (data["part"] == part)
            cells.append(f"{100 * np.mean(predicted[rows] == i):.0f}" if rows.any() else "–")
        lines.append(f"| {style} | " + " | ".join(cells) + " |")
    return lines


def mma_report(model: StyleModel, cap: int, seconds: float, kits: Sequence[str], parts: Sequence[str]) -> list[str]:
    started = time.time()
    clips = list(mma_grooves.mma_clips(cap, seconds, kits, parts))
    rendered = time.time() - started
    from tqdm.auto import tqdm
    inputs = [style_inputs(clip.audio) for clip in tqdm(clips, desc="analysing mma clips")]
    probabilities, _ = model.predict_batch(np.stack([i["features"] for i in inputs]),
                                                   np.stack([i["patch"] for i in inputs]))
    truth = _labels([c.style for c in clips])
    part_of = np.array([c.part for c in clips])
    kit_of = np.array([c.kit for c in clips])
    grooves = {c.groove for c in clips}
    per_style_grooves = Counter(g.style for g in grooves)
    lines = [(f"## Third-party grooves: Debian's MMA library ({len(grooves)} grooves, ≤ {cap} per style, "
              f"{seconds:g} s clips)"), "",
             (f"Drum patterns programmed by MMA's authors (not by this project), quantised, mapped to our taxonomy "
              f"by file name (`bench/mma_grooves.py`), rendered on the acoustic held-out kits ({', '.join(kits)}); "
              f"\"full\" adds MMA's own accompaniment on FluidR3 GM (grooves that have one). Clips rendered or "
              f"read from the cache in {rendered:.0f} s, analysed in {time.time() - started - rendered:.0f} s."), "",
             "| part | n | top-1 % | top-3 % | balanced top-1 % | macro-F1 % (styles present) | target |",
             "|---|---|---|---|---|---|---|"]
    for part in parts:
        rows = part_of == part
        if not rows.any():
            continue
        s = scores(probabilities[rows], truth[rows])
        predicted = probabilities[rows].argmax(1)
        balanced = 100 * np.mean([np.mean(predicted[truth[rows] == t] == t) for t in np.unique(truth[rows])])
        target = f"top-1 {_pass(s['top1'], MMA_TARGETS['top1'])}; top-3 {_pass(s['top3'], MMA_TARGETS['top3'])}"
        lines.append(f"| {part} | {s['n']} | {s['top1']:.1f} | {s['top3']:.1f} | {balanced:.1f} | "
                     f"{s['macro_f1']:.1f} | {target} |")
    lines += ["", "Per style (drums only; full mix in brackets):", "",
              "| style | grooves | clips | top-1 % | top-3 % | most often predicted as |", "|---|---|---|---|---|---|"]
    for i, style in enumerate(STYLE_IDS):
        rows = (truth == i) & (part_of == "drums")
        if not rows.any():
            continue
        full = (truth == i) & (part_of == "full")
        s = scores(probabilities[rows], truth[rows])
        extra = ""
        if full.any():
            f = scores(probabilities[full], truth[full])
            extra = f" ({f['top1']:.0f})"
        named = Counter(STYLE_IDS[p] for p in probabilities[rows].argmax(1)).most_common(3)
        lines.append(f"| {style} | {per_style_grooves[style]} | {rows.sum()} | {s['top1']:.0f}{extra} | "
                     f"{s['top3']:.0f} | {', '.join(f'{k} {n}' for k, n in named)} |")
    lines += ["", "Per kit (drums only):", "", "| kit | n | top-1 % | top-3 % |", "|---|---|---|---|"]
    for kit in kits:
        rows = (kit_of == kit) & (part_of == "drums")
        s = scores(probabilities[rows], truth[rows])
        lines.append(f"| {kit} | {s['n']} | {s['top1']:.1f} | {s['top3']:.1f} |")
    rows = part_of == "drums"
    lines += ["", "Most frequent errors (drums only):", "", "| true | predicted | clips | of |", "|---|---|---|---|"]
    lines += [f"| {t} | {p} | {n} | {total} |" for t, p, n, total in confusions(probabilities[rows], truth[rows])]
    return lines


def _median_cpu_ms(call: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        call()
        times.append(time.process_time() - start)
    return 1000 * float(np.median(times))


def speed_report(model: StyleModel, repeats: int) -> list[str]:
    import librosa

    sr = 22050
    # a 30 s full mix of a held-out kit, far from every training, held-out and catalogue seed
    samples = generate_beat(BeatSpec("funk", seconds=30.0), 77_000_000, ("full",), sr=sr,
                            kits=HELD_OUT_KITS).audio.astype(np.float32)
    analysis, spectra = analyze_with_spectra(samples)  # numba compiles here, off the clock
    model.predict(model_inputs(samples, analysis, spectra))
    librosa.beat.beat_track(y=samples, sr=sr)
    librosa.feature.chroma_cqt(y=samples, sr=sr)

    analyze_ms = _median_cpu_ms(lambda: analyze(samples), repeats)
    # what `describe` adds to the analysis: the bar patch from the analysis' own spectrogram, and the network
    model_ms = _median_cpu_ms(lambda: model.predict(model_inputs(samples, analysis, spectra)), repeats)
    inputs = model_inputs(samples, analysis, spectra)
    predict_ms = _median_cpu_ms(lambda: model.predict(inputs), repeats)
    describe_ms = _median_cpu_ms(lambda: describe(samples, model), repeats)
    librosa_ms = _median_cpu_ms(lambda: (librosa.beat.beat_track(y=samples, sr=sr),
                                         librosa.feature.chroma_cqt(y=samples, sr=sr)), max(3, repeats // 2))
    return [f"## Speed (30 s clip at 22 050 Hz, one core, CPU ms, median of {repeats} runs)", "",
            "| step | CPU ms | target |", "|---|---|---|",
            f"| `analyze()` (tempo, key, groove, energy, ...) | {analyze_ms:.1f} | |",
            (f"| `model_inputs()` + `predict()` on top of the analysis (spectrogram reused) | {model_ms:.1f} | "
             f"{_pass(model_ms, INFERENCE_TARGET_MS, higher_is_better=False)} |"),
            f"| of which `predict()` (ONNX Runtime, one thread) | {predict_ms:.2f} | |",
            f"| `describe()` = analysis + style, file decoding excluded | {describe_ms:.1f} | |",
            (f"| baseline, plain librosa: `beat.beat_track` + `feature.chroma_cqt` (tempo and chroma only, "
             f"no style) | {librosa_ms:.1f} | |")]


# ------------------------------------------------------------------------------------------------ main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 grooves per style, one kit, drums only, 3 timing runs")
    parser.add_argument("--cap", type=int, default=12, help="MMA grooves per style at most")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the MMA clips")
    parser.add_argument("--kits", nargs="+", default=list(mma_grooves.ACOUSTIC_HELD_OUT_KITS))
    parser.add_argument("--no-full", action="store_true", help="MMA drums only (skip the accompanied mixes)")
    parser.add_argument("--repeats", type=int, default=7, help="timing runs (the median is reported)")
    parser.add_argument("--workers", type=int, default=1, help="processes if the held-out split must be built")
    parser.add_argument("--model", type=Path, default=STYLE_MODEL_PATH, help="ONNX model (default: the shipped one)")
    parser.add_argument("--card", type=Path, default=STYLE_CARD_PATH, help="its model card")
    parser.add_argument("--skip", nargs="*", default=[], choices=["held-out", "mma", "speed"])
    args = parser.parse_args()
    if args.quick:
        args.cap, args.kits, args.no_full, args.repeats = 3, args.kits[:1], True, 3
    if not args.model.is_file() or not args.card.is_file():
        sys.exit(f"no style model at {args.model} (or no card at {args.card}): train it first")

    started = time.time()
    card, model = model_card(args.card), StyleModel(args.model)
    digest = hashlib.sha256(args.model.read_bytes()).hexdigest()[:12]
    command = shlex.join(["python", "bench/model.py", *sys.argv[1:]])
    report = ["# Style model", "",
              f"Run {date.today().isoformat()} on {platform.machine()} ({os.cpu_count()} cores), one thread:", "",
              f"```bash\n{command}\n```", "",
              (f"Model: `{args.model.name}` sha256 {digest}…, {card.get('architecture', '?')}; trained on "
               f"{card['data'].get('train_renders', '?')} renders ({card['data'].get('per_style', '?')} beats per "
               f"style × parts, {card['data'].get('seconds', '?')} s, kits never in the held-out list)."), ""]
    if "held-out" not in args.skip:
        report += held_out_report(model, card, args.workers) + [""]
    if "mma" not in args.skip:
        parts = ("drums",) if args.no_full else ("drums", "full")
        report += mma_report(model, args.cap, args.seconds, args.kits, parts) + [""]
    if "speed" not in args.skip:
        report += speed_report(model, args.repeats) + [""]
    report.append(f"Whole run: {time.time() - started:.0f} s wall.")
    print("\n".join(report))


if __name__ == "__main__":
    main()
