"""Accuracy, calibration and speed of the shipped style model, source by source, beside a plain baseline.

    python bench/model.py [--skip held-out sources speed] [--repeats 7]
    python bench/model.py --experiments [--table data/style_experiments.json]

1. **Held-out generated split** (a regression check, not evidence of real-world accuracy):
   `build_dataset(experiment_inputs, "held_out", ...)` with the model card's own settings, so it reads the
   cache the training wrote: beats of seeds and kits the model never trained on. Top-1 per part.
2. **Third-party sources** (`beat_selection.sources`, needs Debian's `mma` and `hydrogen-data`), each held
   out of training as a whole: the MMA validation folders (casio, kara: they chose the epochs and the
   temperature, so they are not independent of the model), the MMA test folder (zoom) and Hydrogen's
   three labelled demo songs (held out of training AND tuning). For each: top-1, top-3, macro-F1 over the
   styles present, per-style recall, expected calibration error (10 bins) and mean confidence, beside a
   plain baseline trained on the same training rows: k-nearest neighbours on librosa features (MFCC means
   and deviations, librosa's tempo, the onset-strength autocorrelation; `training.knn_baseline`).
   Targets: top-1 >= 50 %, top-3 >= 80 %, every style present >= 25 % top-1, ECE <= 0.10.
3. **Speed** on one core, for a 30 s clip: CPU ms (`time.process_time`, median of `--repeats` runs, numba
   compiled and the model loaded before the clock starts) of `analyze()`, and of `model_inputs()` (reusing the
   analysis' spectrogram, as `describe` does) + `predict()` on top of it (target <= 20 ms), beside plain
   librosa (`beat_track` + `chroma_cqt`) on the same clip.

`--experiments` trains small models (one network, a few minutes each) on several choices of training data
and prints, for each, the same measures on every held-out source (choices are made on the validation
folders; the test sources are reported, never used to choose), then writes the table that notebook 03b
shows. The model measured by 1-3 is whatever is shipped in beat_selection/models/ when the script runs.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # "one core": set before numpy loads its BLAS

import argparse
import hashlib
import json
import platform
import shlex
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import numpy as np

from beat_selection.beats import HELD_OUT_KITS, PARTS, STYLE_IDS, BeatSpec, build_dataset, generate_beat
from beat_selection.features import analyze, analyze_with_spectra
from beat_selection.model import STYLE_CARD_PATH, STYLE_MODEL_PATH, StyleModel, describe, model_card, model_inputs

HELD_OUT_TARGETS = {"all": 95.0, "drums": 85.0, "no_drums": 70.0}
SOURCE_TARGETS = {"top1": 50.0, "top3": 80.0, "style": 25.0, "ece": 0.10}
INFERENCE_TARGET_MS = 20.0
TABLE_PATH = Path(__file__).parent.parent / "data" / "style_experiments.json"
SOURCE_NAMES = {"gen_held": "generator, held-out split (regression check)",
                "mma_validation": "MMA validation folders (casio, kara; chose epochs and temperature)",
                "mma_validation_table1": "the same, the clips of label table 1 only (as measured before table 2)",
                "mma_test": "MMA test folder (zoom; held out of training and tuning)",
                "mma_test_table1": "the same, the clips of label table 1 only (as measured before table 2)",
                "hydrogen": "Hydrogen demo songs (3 songs; held out of training and tuning)"}


# ------------------------------------------------------------------------------------------------ metrics

def _labels(styles: Sequence[str]) -> np.ndarray:
    return np.array([STYLE_IDS.index(s) for s in styles])


def scores(probabilities: np.ndarray, truth: np.ndarray) -> dict:
    """Top-1, top-3, macro-F1 (over the styles present in `truth`; predictions of absent styles count against
    recall, never for it), per-style recall (%), ECE (10 bins) and mean confidence."""
    from beat_selection.training import expected_calibration_error

    predicted = probabilities.argmax(1)
    top3 = (np.argsort(-probabilities, axis=1)[:, :3] == truth[:, None]).any(1)
    f1, recall = [], {}
    for style in np.unique(truth):
        tp = np.sum((predicted == style) & (truth == style))
        precision, r = tp / max(np.sum(predicted == style), 1), tp / np.sum(truth == style)
        recall[STYLE_IDS[style]] = round(100 * float(r), 1)
        f1.append(2 * precision * r / max(precision + r, 1e-12))
    return {"n": int(len(truth)), "top1": round(100 * float(np.mean(predicted == truth)), 1),
            "top3": round(100 * float(np.mean(top3)), 1), "macro_f1": round(100 * float(np.mean(f1)), 1),
            "ece": round(expected_calibration_error(probabilities, truth), 3),
            "confidence": round(float(probabilities.max(1).mean()), 3), "recall": recall}


def _pass(value: float, target: float | None, higher_is_better: bool = True) -> str:
    if target is None:
        return ""
    ok = value >= target if higher_is_better else value <= target
    return f"{'≥' if higher_is_better else '≤'} {target:g}: {'yes' if ok else '**no**'}"


def confusions(probabilities: np.ndarray, truth: np.ndarray, top: int = 8) -> list[tuple[str, str, int, int]]:
    "The most frequent (true style, predicted style, count, clips of the true style) errors."
    predicted = probabilities.argmax(1)
    errors = Counter((STYLE_IDS[t], STYLE_IDS[p]) for t, p in zip(truth, predicted) if t != p)
    totals = Counter(STYLE_IDS[t] for t in truth)
    return [(t, p, n, totals[t]) for (t, p), n in errors.most_common(top)]


# ------------------------------------------------------------------------------------------------ data

def load_sources(card_data: dict, progress: bool = True) -> dict[str, dict[str, np.ndarray]]:
    "The held-out sources at the card's settings (cached by the training run that made the card)."
    from beat_selection.sources import hydrogen_dataset, hydrogen_songs, mma_available, mma_dataset
    from beat_selection.training import experiment_inputs

    if not mma_available():
        raise RuntimeError("the third-party sources need Debian's `mma`: apt-get install mma")
    cap, seconds = card_data.get("mma_cap", 40), card_data["seconds"]
    out = {}
    for name, split in (("mma_validation", "validation"), ("mma_test", "test")):
        out[name] = mma_dataset(experiment_inputs, split, cap, seconds, progress=progress)
        out[f"{name}_table1"] = of_table_one(out[name])
    if hydrogen_songs():
        out["hydrogen"] = hydrogen_dataset(experiment_inputs, progress=progress)
    return out


def of_table_one(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    "The clips of a source whose files label table 1 already had, so that figures compare across table versions."
    from beat_selection.sources import labelled_files

    table = labelled_files(1)
    keep = np.array([str(item).partition(":")[0] in table for item in data["item"]])
    return {name: values[keep] for name, values in data.items()}


def training_rows(card_data: dict, workers: int, progress: bool = True) -> dict[str, np.ndarray]:
    "The rows the card's model was trained on (generator, plus the MMA training folders if it used them)."
    from beat_selection.training import combine, experiment_inputs

    generated = build_dataset(experiment_inputs, "train", card_data["per_style"], card_data["seconds"],
                              workers=workers, progress=progress, chunk=40)  # the chunks `train_and_ship` builds
    if not card_data.get("sources"):
        return generated
    from beat_selection.sources import mma_dataset
    mma = mma_dataset(experiment_inputs, "train", card_data.get("mma_cap", 40), card_data["seconds"],
                      card_data.get("mma_renders", 3), progress=progress)
    return combine(generated, mma, sources=["generator", "mma"])


# ------------------------------------------------------------------------------------------------ reports

def held_out_report(model: StyleModel, card: dict, workers: int) -> list[str]:
    from beat_selection.training import experiment_inputs

    per_style, seconds = card["data"]["held_out_per_style"], card["data"]["seconds"]
    data = build_dataset(experiment_inputs, "held_out", per_style, seconds, workers=workers)
    probabilities, _ = model.predict_batch(data["features"], data["patch"])
    truth = _labels(data["style"])
    lines = [(f"## Held-out generated split ({per_style} beats per style × {len(PARTS)} parts, {seconds:g} s, "
              f"kits {', '.join(HELD_OUT_KITS)}): a regression check"), "",
             "| part | n | top-1 % | top-3 % | macro-F1 % | target (top-1) |", "|---|---|---|---|---|---|"]
    for part in ("all", *PARTS):
        rows = np.ones(len(truth), bool) if part == "all" else data["part"] == part
        s = scores(probabilities[rows], truth[rows])
        lines.append(f"| {part} | {s['n']} | {s['top1']:.1f} | {s['top3']:.1f} | {s['macro_f1']:.1f} | "
                     f"{_pass(s['top1'], HELD_OUT_TARGETS.get(part))} |")
    return lines


def source_table(results: dict[str, dict], baseline: dict[str, dict]) -> list[str]:
    "One row per source: the model's measures beside the baseline's."
    lines = ["| source | n | top-1 % | top-3 % | macro-F1 % | ECE | mean confidence | styles ≥ 25 % | "
             "baseline top-1 % | baseline top-3 % |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, s in results.items():
        b = baseline.get(name, {})
        weakest = min(s["recall"].values())
        lines.append(f"| {SOURCE_NAMES.get(name, name)} | {s['n']} | {s['top1']:.1f} | {s['top3']:.1f} | "
                     f"{s['macro_f1']:.1f} | {s['ece']:.3f} | {s['confidence']:.2f} | "
                     f"{'yes' if weakest >= SOURCE_TARGETS['style'] else f'no (min {weakest:.0f})'} | "
                     f"{b.get('top1', float('nan')):.1f} | {b.get('top3', float('nan')):.1f} |")
    return lines


def sources_report(model: StyleModel, card: dict, workers: int) -> list[str]:
    from beat_selection.training import knn_baseline

    started = time.time()
    sources = load_sources(card["data"])
    train = training_rows(card["data"], workers)
    knn = knn_baseline(train["baseline"], train["style"])
    results, baseline, probabilities = {}, {}, {}
    for name, data in sources.items():
        probabilities[name], _ = model.predict_batch(data["features"], data["patch"])
        results[name] = scores(probabilities[name], _labels(data["style"]))
        baseline[name] = scores(knn(data["baseline"]), _labels(data["style"]))
    lines = ["## Third-party sources, each held out of training as a whole", "",
             (f"Sources and baseline loaded (cached) and measured in {time.time() - started:.0f} s. The baseline is "
              f"k-nearest neighbours on plain librosa features, fitted on the same {len(train['style'])} training rows. "
              f"Targets: top-1 ≥ {SOURCE_TARGETS['top1']:g} %, top-3 ≥ {SOURCE_TARGETS['top3']:g} %, every style "
              f"present ≥ {SOURCE_TARGETS['style']:g} % top-1, ECE ≤ {SOURCE_TARGETS['ece']:g} (the temperature was "
              f"fitted on the validation folders, so only the test sources judge it)."), ""]
    lines += source_table(results, baseline)
    lines += ["", "Recall per style (%, the model; baseline in brackets):", "",
              "| style | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
    for style in STYLE_IDS:
        cells = [f"{results[n]['recall'][style]:.0f} ({baseline[n]['recall'][style]:.0f})"
                 if style in results[n]["recall"] else "–" for n in results]
        if any(c != "–" for c in cells):
            lines.append(f"| {style} | " + " | ".join(cells) + " |")
    for name, data in sources.items():
        lines += ["", f"Most frequent errors, {SOURCE_NAMES.get(name, name)}:", "",
                  "| true | predicted | clips | of |", "|---|---|---|---|"]
        lines += [f"| {t} | {p} | {n} | {total} |"
                  for t, p, n, total in confusions(probabilities[name], _labels(data["style"]))]
    return lines


# ------------------------------------------------------------------------------------------------ experiments

def evaluate(predict: Callable[[dict], np.ndarray], sets: dict[str, dict], temperature: float | None = None) -> dict:
    from beat_selection.training import reliability, with_temperature

    out = {}
    for name, data in sets.items():
        probabilities = predict(data)
        if temperature is not None:
            probabilities = with_temperature(probabilities, temperature)
        out[name] = scores(probabilities, _labels(data["style"]))
        out[name]["reliability"] = [[round(c, 3), round(a, 3), n] for c, a, n in
                                    reliability(probabilities, _labels(data["style"]))]
    return out


def attempt(name: str, about: str, train: dict, sets: dict, validation: dict | None = None,
            weights: np.ndarray | None = None, members: int = 1, epochs: int = 30, hide_share: float = 0.5,
            features: Callable[[dict], dict] | None = None) -> dict:
    "Train `members` networks on `train`, then measure them (raw and tempered) and the baseline on every set."
    import torch
    from beat_selection.training import (StyleEnsemble, fit_temperature, knn_baseline, torch_predict,
                                         train_style_net)
    started = time.time()
    view = features or (lambda d: d)
    nets = [train_style_net(view(train), epochs=epochs, seed=k, progress=False, hide_share=hide_share,
                            validation=view(validation) if validation is not None else None, weights=weights)[0]
            for k in range(members)]
    net = StyleEnsemble(nets).eval()
    predict = lambda d: torch_predict(net, view(d)["features"], view(d)["patch"])[0]
    temperature = fit_temperature(predict(sets["mma_validation"]), _labels(sets["mma_validation"]["style"]))
    knn = knn_baseline(train["baseline"], train["style"])
    result = dict(name=name, about=about, train_rows=int(len(train["style"])), members=members, epochs=epochs,
                  temperature=round(temperature, 3), raw=evaluate(predict, sets),
                  calibrated=evaluate(predict, sets, temperature),
                  baseline=evaluate(lambda d: knn(d["baseline"]), sets), seconds=round(time.time() - started))
    torch.set_num_threads(1)
    return result


def run_experiments(workers: int, table: Path, per_style: int = 24, seconds: float = 12.0) -> list[dict]:
    "The attempts of the chapter, at a small scale; written to `table` as they finish."
    from beat_selection.sources import hydrogen_dataset, mma_dataset
    from beat_selection.training import combine, experiment_inputs, row_weights

    full = build_dataset(experiment_inputs, "train", per_style, seconds, workers=workers, progress=False, chunk=40)

    def generated(n: int) -> dict:  # the first n beats of every style: smaller sets are subsets of the larger
        rows = full["seed"] < n
        return {k: v[rows] for k, v in full.items()}

    sets = {"gen_held": build_dataset(experiment_inputs, "held_out", 10, seconds, workers=workers, progress=False),
            "mma_validation": mma_dataset(experiment_inputs, "validation", 40, seconds, progress=False),
            "mma_test": mma_dataset(experiment_inputs, "test", 40, seconds, progress=False),
            "hydrogen": hydrogen_dataset(experiment_inputs, progress=False)}
    mma_train = mma_dataset(experiment_inputs, "train", 40, seconds, 3, progress=False)
    validation = sets["mma_validation"]
    results: list[dict] = []

    def record(result: dict) -> None:
        results.append(result)
        raw, cal = result["raw"], result["calibrated"]
        print(f"{result['name']:34} " + " ".join(f"{k} {v['top1']:5.1f}/{v['top3']:5.1f}" for k, v in raw.items())
              + f" | T {result['temperature']:.2f}, ECE test {cal['mma_test']['ece']:.3f} hydrogen "
              f"{cal['hydrogen']['ece']:.3f} | knn " + " ".join(f"{v['top1']:.1f}" for v in result["baseline"].values())
              + f" ({result['seconds']} s)", flush=True)
        table.write_text(json.dumps(dict(per_style=per_style, seconds=seconds, sources=SOURCE_NAMES,
                                         attempts=results), indent=1) + "\n")

    both = combine(generated(per_style), mma_train, sources=["generator", "mma"])
    for n in sorted({10, 20, 40, per_style} & set(range(per_style + 1))):  # the lesson: more generated data
        record(attempt(f"generator {n}/style", "humanised generator only; epoch chosen on its own seeds",
                       generated(n), sets))
    record(attempt(f"generator {per_style}/style, MMA-validated", "generator only; epoch chosen on the MMA "
                   "validation folders", generated(per_style), sets, validation=validation))
    record(attempt("+ MMA train folders, share 0.5", "generator + humanised MMA training folders, each source "
                   "half of the loss", both, sets, validation=validation,
                   weights=row_weights(both, {"generator": 0.5, "mma": 0.5})))
    record(attempt("+ MMA, styles balanced, share 0.5", "every style weighs the same; within a style each "
                   "source weighs half", both, sets, validation=validation,
                   weights=row_weights(both, {"generator": 0.5, "mma": 0.5}, balance="style")))
    from beat_selection.features import FEATURE_NAMES
    without = lambda d: {**d, "features": np.ascontiguousarray(d["features"][:, :len(FEATURE_NAMES)])}
    record(attempt("+ MMA, styles balanced, no sound summary", "share 0.5, styles balanced; the network reads the "
                   "analysis vector and the patch only", both, sets, validation=validation,
                   weights=row_weights(both, {"generator": 0.5, "mma": 0.5}, balance="style"), features=without))
    record(attempt("MMA train folders only", "no generator at all (6 styles)", combine(mma_train, sources=["mma"]),
                   sets, validation=validation))
    return results



# ------------------------------------------------------------------------------------------------ calibration

def calibrate_shipped(model_path: Path, card_path: Path) -> dict:
    """Temper the shipped model that was exported before calibration existed: fit T on the MMA validation folders,
    append softmax(log p / T) to its graph (`training.temper_onnx`), and add to its card the temperature, the
    sources and their licences, and its figures on the held-out sources, measured on the tempered export."""
    import tempfile
    from beat_selection.model import model_version
    from beat_selection.training import SOURCE_LICENCES, fit_temperature, source_metrics, temper_onnx

    card = model_card(card_path)
    if "calibration" in card:
        raise SystemExit(f"{card_path} already says the model is calibrated (T = {card['calibration']['temperature']})")
    sources = load_sources({"seconds": 12.0, "mma_cap": 40})
    plain = StyleModel(model_path)
    validation = sources["mma_validation"]
    raw, _ = plain.predict_batch(validation["features"], validation["patch"])
    temperature = fit_temperature(raw, _labels(validation["style"]))
    with tempfile.TemporaryDirectory(dir=model_path.parent) as staging:
        tempered_path = temper_onnx(model_path, Path(staging) / model_path.name, temperature)
        tempered = StyleModel(tempered_path)
        metrics = {}
        for name, data in sources.items():
            probabilities, _ = tempered.predict_batch(data["features"], data["patch"])
            metrics[name] = source_metrics(probabilities, data["style"])
        card["calibration"] = dict(temperature=round(temperature, 4), fitted_on="mma validation folders",
                                   added="after training, by bench/model.py --calibrate (training.temper_onnx)")
        card["data"]["source_licences"] = {"generator": SOURCE_LICENCES["generator"]}
        card["data"]["measured_on"] = {k: v for k, v in SOURCE_LICENCES.items() if k != "generator"}
        card["metrics"]["sources"] = metrics
        card["model_version"] = model_version(tempered_path)
        (Path(staging) / card_path.name).write_text(json.dumps(card, indent=1) + "\n")
        for name in (model_path.name, card_path.name):
            (Path(staging) / name).replace(model_path.parent / name)
    return card

# ------------------------------------------------------------------------------------------------ speed

def _median_cpu_ms(call: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        call()
        times.append(time.process_time() - start)
    return 1000 * float(np.median(times))


def speed_report(model: StyleModel, repeats: int) -> list[str]:
    from beat_selection.core import import_librosa
    librosa = import_librosa()  # compiled once, by one process, into this user's cache

    sr = 22050
    # a 30 s full mix of a held-out kit, far from every training, held-out and catalogue seed
    samples = generate_beat(BeatSpec("funk", seconds=30.0), 77_000_000, ("full",), sr=sr,
                            kits=HELD_OUT_KITS).audio.astype(np.float32)
    analysis, spectra = analyze_with_spectra(samples)  # numba compiles here, off the clock
    model.predict(model_inputs(samples, analysis, spectra))
    librosa.beat.beat_track(y=samples, sr=sr)
    librosa.feature.chroma_cqt(y=samples, sr=sr)

    analyze_ms = _median_cpu_ms(lambda: analyze(samples), repeats)
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
    parser.add_argument("--repeats", type=int, default=7, help="timing runs (the median is reported)")
    parser.add_argument("--workers", type=int, default=1, help="processes if a dataset must be built")
    parser.add_argument("--model", type=Path, default=STYLE_MODEL_PATH, help="ONNX model (default: the shipped one)")
    parser.add_argument("--card", type=Path, default=STYLE_CARD_PATH, help="its model card")
    parser.add_argument("--skip", nargs="*", default=[], choices=["held-out", "sources", "speed"])
    parser.add_argument("--experiments", action="store_true", help="run the small training experiments instead")
    parser.add_argument("--calibrate", action="store_true",
                        help="temper the shipped (uncalibrated) model on the MMA validation folders and update its card")
    parser.add_argument("--table", type=Path, default=TABLE_PATH, help="where --experiments writes its table")
    parser.add_argument("--per-style", type=int, default=24, help="generated beats per style in --experiments")
    args = parser.parse_args()
    started = time.time()
    command = shlex.join(["python", "bench/model.py", *sys.argv[1:]])
    header = ["# Style model", "",
              f"Run {date.today().isoformat()} on {platform.machine()} ({os.cpu_count()} cores), one thread:", "",
              f"```bash\n{command}\n```", ""]
    if args.calibrate:
        card = calibrate_shipped(args.model, args.card)
        print(f"T = {card['calibration']['temperature']}; " + "; ".join(
            f"{k}: top-1 {v['accuracy']:.3f}, top-3 {v['top3']:.3f}, ECE {v['ece']:.3f}" for k, v in card["metrics"]["sources"].items()))
        return
    if args.experiments:
        print("\n".join(header), flush=True)
        run_experiments(args.workers, args.table, args.per_style)
        print(f"\nWhole run: {time.time() - started:.0f} s wall; table written to {args.table}.")
        return
    if not args.model.is_file() or not args.card.is_file():
        sys.exit(f"no style model at {args.model} (or no card at {args.card}): train it first")
    card, model = model_card(args.card), StyleModel(args.model)
    digest = hashlib.sha256(args.model.read_bytes()).hexdigest()[:12]
    report = header + [(f"Model: `{args.model.name}` sha256 {digest}…, {card.get('architecture', '?')}; trained on "
                        f"{card['data'].get('train_renders', '?')} renders ({card['data'].get('per_style', '?')} beats "
                        f"per style × parts, {card['data'].get('seconds', '?')} s"
                        f"{', plus the MMA training folders' if card['data'].get('sources') else ''})."), ""]
    if "held-out" not in args.skip:
        report += held_out_report(model, card, args.workers) + [""]
    if "sources" not in args.skip:
        report += sources_report(model, card, args.workers) + [""]
    if "speed" not in args.skip:
        report += speed_report(model, args.repeats) + [""]
    report.append(f"Whole run: {time.time() - started:.0f} s wall.")
    print("\n".join(report))


if __name__ == "__main__":
    main()
