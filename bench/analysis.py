"""Accuracy and speed of `beat_selection.features.analyze` beside plain librosa, measured in one run.

    python bench/analysis.py [--per-style 8] [--seconds 30] [--real 120] [--quick] [--held-out-only]
                             [--fit-meter] [--fit-tempo-prior]

Tempo: Acc1 (within 4 %) and Acc2 (also at x2, x3, x1/2, x1/3) on generated grooves (bench/grooves.py,
seed 1: the analysis was tuned on seed 0), per style and per stem. Key: MIREX weighted score (mir_eval) on
the grooves' harmony and on real scores from music21's corpus (bench/real_keys.py). Speed: CPU seconds per
minute of audio on one core, and peak memory of a 10-minute file in a fresh process. Baseline:
`librosa.beat.beat_track` for tempo, `chroma_cqt` with Krumhansl-Kessler profiles for key.

Held out of all tuning (tempo model, metre regression, swing settings): half of the files of Debian's MMA
groove library (`held_out_file`, by a hash of the file name), drums played with human timing (`humanise`:
micro-timing per instrument, swing, tempo drift and velocity spread modelled on Friberg & Sundström 2002,
Butterfield 2010, Frühauf, Kopiez & Platz 2013 and Hellmer & Madison 2015; see the comments there), reported
per library folder, per style and per tempo range beside plain librosa (`beat.beat_track` and
`feature.tempo`); swing loops and generated grooves of seed 1 as regression checks. Swing error is measured on
loops whose setting is known (`swing_loops`). `--fit-meter` refits the metre regression on the tuning half;
`--fit-tempo-prior` chooses the tempo classifier's weight and the tempo slope there.

Start-up: the first `analyze` in a fresh process whose caches are empty (NUMBA_CACHE_DIR and HOME pointing to
empty folders), wall time from the import to the answer, and warm CPU seconds per minute of audio, for this
package (NumPy beat tracker and spectra, nothing compiled) beside the package as it was with librosa's
numba beat tracker (commit `OLD_TRACKER_COMMIT`, exported with `git archive`), measured in the same run.
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # "one core": set before numpy loads its BLAS

import argparse
import itertools
import json
import re
import subprocess
import sys
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from beat_selection.core import import_librosa

librosa = import_librosa()  # its numba functions compile once, by one process, into this user's cache
import mir_eval  # noqa: E402
import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from grooves import groove_set  # noqa: E402
from real_keys import SOUNDFONT, real_key_set  # noqa: E402

from beat_selection.features import PITCH_CLASSES, analyze  # noqa: E402

KRUMHANSL_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KRUMHANSL_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


# ------------------------------------------------------------------------------------------------ swing loops

# Loops whose swing is set as on a drum machine: the generator's step grid (beat_selection.beats.step_grid)
# delays every second 8th (unit 8) or 16th (unit 16) to `percent` % of its pair. Each pattern plays the notes
# that swing, else a swing setting would change nothing audible and could not be measured.
SWING_PATTERNS: dict[str, tuple[str, int, dict[str, str], tuple[float, ...]]] = {
    # name: (style it borrows sounds and harmony from, unit, drums, tempos)
    "house 16ths": ("house", 16, {"kick": "X---X---X---X---", "clap": "----X-------X---", "hat_open": "--x---x---x---x-",
                                  "shaker": "xxxxxxxxxxxxxxxx"}, (118.0, 124.0, 128.0)),
    "boom-bap 16ths": ("boom-bap", 16, {"kick": "X------xX-x---x-", "snare": "----X-------X---",
                                        "hat": "xxx-xxx-xxx-xxx-"}, (84.0, 92.0, 100.0)),
    "funk 16ths": ("funk", 16, {"kick": "X-x-------x--x--", "snare": "----X--o-o--X--o", "hat": "XxxxXxxxXxxxXxxx"},
                   (96.0, 110.0)),
    "jazz ride": ("jazz", 8, {"ride": "X---x-x-X---x-x-", "hat": "----x-------x---", "kick": "o---o---o---o---"},
                  (100.0, 160.0, 200.0)),
    "shuffle 8ths": ("rock", 8, {"kick": "X-------X-x-----", "snare": "----X-------X---", "hat": "x-x-x-x-x-x-x-x-"},
                     (90.0, 120.0, 140.0)),
}
SWING_SETTINGS = (50.0, 54.0, 58.0, 62.0, 66.7, 71.0, 75.0)


def swing_loops(seconds: float = 20.0, seed: int = 0, settings: tuple[float, ...] = SWING_SETTINGS,
                parts: tuple[str, ...] = ("drums", "full")) -> Iterator[dict]:
    "Every `SWING_PATTERNS` loop at every tempo and swing setting, rendered by `generate_beat` (labels included)."
    import dataclasses

    from beat_selection.beats import STYLES, BeatSpec, generate_beat
    for name, (style_name, unit, drums, tempos) in SWING_PATTERNS.items():
        for bpm in tempos:
            for k, percent in enumerate(settings):
                style = dataclasses.replace(STYLES[style_name], grooves=(drums,), swing=(percent / 100,) * 2,
                                            swing_eighths=unit == 8, ghost_rate=0.0)
                beat = generate_beat(BeatSpec("loop", bpm=bpm, seconds=seconds), 1000 * seed + 17 * k + int(bpm),
                                     parts, styles={"loop": style})
                for part in parts:
                    yield dict(name=name, style=style_name, unit=unit, bpm=bpm, swing=percent, part=part, meter=4,
                               audio=beat.stems[part] if part in beat.stems else beat.audio)


# ------------------------------------------------------------------------------------------------ human timing

# Third-party patterns (Debian's MMA groove library, read by bench/mma_grooves.py) played with a drummer's
# timing. MMA's grooves are quantised; a drummer is not. The perturbation follows published measurements:
#
# * Swing ratio against tempo (Friberg & Sundström 2002, "Swing ratios and ensemble timing in jazz
#   performance", Music Perception 19(3)): the ride cymbal's long:short ratio falls roughly linearly with
#   tempo, from about 3:1 at slow tempos to near 1:1 at very fast ones; modelled as 3.0 at 120 BPM falling
#   1.5 per 100 BPM (2.4:1, 71 %, at 160; 1.5:1, 60 %, at 220), clipped to 1.2..3.0, +-0.2 between drummers.
# * Instrument asynchronies (Butterfield 2010, "Participatory discrepancies and the perception of beats in
#   jazz", Music Perception 27(3)): drummers and bassists sit consistently ahead of or behind each other by
#   10-30 ms; modelled as a laid-back snare (+12 ms, +20 ms in hip-hop, reggae and R&B, sd 6 ms between
#   clips), pushed hats and ride (-6 ms, sd 4 ms) and a kick on the beat (sd 4 ms).
# * Per-hit timing noise (Hellmer & Madison 2015, "Quantifying microtiming patterning and variability in
#   drum kit recordings", Music Perception 33(2); Frühauf, Kopiez & Platz 2013, "Music on the timing grid",
#   Musicae Scientiae 17(2), who used offsets of this size as the range drummers play in): a standard
#   deviation of 5-15 ms per hit, drawn per clip.
# * Tempo drift: a slow sine of 0-2 % over 8-24 beats plus a random walk, as a drummer without a click.
# * Velocity: a log-normal spread of 15 % per hit.
#
# Hip-hop, R&B and funk swing their 16ths, reggae its 8ths or 16ths, jazz its 8ths by the tempo rule above,
# when the pattern as written is straight there (some MMA jazz grooves are already written swung).

SWUNG_16THS = {"boom-bap": (54.0, 62.0), "rnb": (50.0, 58.0), "funk": (50.0, 56.0)}
LAID_BACK_STYLES = {"boom-bap", "reggae", "rnb"}
SPLIT_SALT = "analysis-split-1"  # files are tuned on or held out by a hash of their name with this salt


def jazz_swing_percent(bpm: float, rng: np.random.Generator) -> float:
    "A jazz drummer's 8th-note swing at `bpm`, after Friberg & Sundström (2002), as a percentage."
    ratio = float(np.clip(3.0 - 1.5 * (bpm - 120) / 100 + rng.normal(0, 0.2), 1.2, 3.0))
    return 100 * ratio / (1 + ratio)


def held_out_file(file: str) -> bool:
    "Whether an MMA library file (e.g. 'stdlib/waltz') is held out of all tuning, by a stable hash."
    return zlib.crc32(f"{SPLIT_SALT}|{file}".encode()) % 2 == 1


def swing_position(frac: float, unit: int, percent: float) -> float | None:
    "The swung position within the beat of a straight note at `frac`, or None when it does not swing."
    p = percent / 100
    if unit == 8 and abs(frac - 0.5) < 0.03: return p
    if unit == 16 and abs(frac - 0.25) < 0.02: return p / 2
    if unit == 16 and abs(frac - 0.75) < 0.02: return 0.5 + p / 2
    return None


def humanise(hits: list[tuple[float, str, float]], style: str, bpm: float, rng: np.random.Generator
             ) -> tuple[list[tuple[float, str, float]], float, int]:
    """(beat position, voice, velocity) hits played by a drummer: (seconds, voice, velocity), the swing
    applied (percent) and its unit. Times start at beat 0 = second 0 before drift and micro-timing."""
    unit, percent = 8, 50.0
    if style == "jazz": unit, percent = 8, jazz_swing_percent(bpm, rng)
    elif style in SWUNG_16THS: unit, percent = 16, float(rng.uniform(*SWUNG_16THS[style]))
    elif style == "reggae": unit, percent = int(rng.choice([8, 16])), float(rng.uniform(50, 60))
    back = float(rng.normal(20 if style in LAID_BACK_STYLES else 12, 6)) / 1000
    feel = {"snare": back, "clap": back, "rim": back, "hat": float(rng.normal(-6, 4)) / 1000,
            "hat_open": float(rng.normal(-6, 4)) / 1000, "ride": float(rng.normal(-6, 4)) / 1000,
            "kick": float(rng.normal(0, 4)) / 1000}
    noise = float(rng.uniform(0.005, 0.015))
    amount, period, phase = float(rng.uniform(0, 0.02)), float(rng.uniform(8, 24)), float(rng.uniform(0, 2 * np.pi))
    last = max((b for b, _, _ in hits), default=0.0) + 2
    grid = np.arange(0.0, last + 1, 0.25)  # tempo drift in quarter-beat steps
    walk = np.cumsum(rng.normal(0, 0.0015, len(grid)))
    walk -= walk.mean()
    seconds_per_step = 0.25 * 60 / (bpm * (1 + amount * np.sin(2 * np.pi * grid / period + phase) + walk))
    clock = np.concatenate([[0.0], np.cumsum(seconds_per_step)])[:len(grid)]
    played = []
    for beat, voice, velocity in hits:
        whole, frac = divmod(beat, 1.0)
        moved = swing_position(frac, unit, percent) if percent != 50 else None
        position = whole + (moved if moved is not None else frac)
        t = float(np.interp(position, grid, clock)) + feel.get(voice, 0.0) + float(rng.normal(0, noise))
        played.append((t, voice, float(min(1.0, velocity * np.exp(rng.normal(0, 0.15))))))
    return played, percent, unit


def mma_files() -> list[tuple[str, int]]:
    "(library file, beats per bar) of every MMA file in 3/4 or 4/4 (by its `Time` lines), metronomes left out."
    from beat_selection.sources import MMA_LIB
    out = []
    for path in sorted(MMA_LIB.glob("*/*.mma")):
        text = path.read_text(errors="replace")
        times = set(re.findall(r"^\s*time\s+(\d+)", text, flags=re.IGNORECASE | re.MULTILINE))
        file = f"{path.parent.name}/{path.stem}"
        if "metronome" in file or times - {"3", "4"} or not times: continue
        if times == {"3"} or times == {"4"}: out.append((file, int(times.pop())))
    return out


def human_mma_set(held_out: bool, per_file: int = 1, per_waltz_file: int = 3, seconds: float = 20.0,
                  progress: bool = False, tempo_draws: int = 1) -> Iterator[dict]:
    """Drum clips of MMA grooves played with human timing (`humanise`), one half of the files (`held_out_file`).

    Labels: tempo (the quarter note, the MIDI file's beat), beats per bar from the file's MIDI time signature,
    style from beat_selection.sources's label table 1 ("waltz" for 3/4 files, "other" when unmapped; table 1 keeps
    these sets as they were drawn when later tables label more files), the swing
    applied and the source folder. Files whose tempo is ambiguous (TEMPO_FACTOR, TEMPO_FIXED) are left out.
    `tempo_draws` > 1 plays each groove again at other tempos, with other timing (for training)."""
    from beat_selection.sources import (ACOUSTIC_HELD_OUT_KITS, GM_VOICES, MMA_LIB, TEMPO_FACTOR, TEMPO_FIXED, Groove,
                                        doc_tempo, groove_names, labelled_files, read_midi, render_midi)

    from beat_selection.beats import DrumHit, render_drums
    table = labelled_files(1)
    for file, metre in mma_files():
        if held_out_file(file) != held_out or file in TEMPO_FACTOR or file in TEMPO_FIXED: continue
        style = table.get(file, "waltz" if metre == 3 else "other")
        text = (MMA_LIB / f"{file}.mma").read_text(errors="replace")
        names = sorted(groove_names(text), key=lambda n: zlib.crc32(n.encode()))
        declared = doc_tempo(text)
        for name, draw in itertools.product(names[:per_waltz_file if metre == 3 else per_file], range(tempo_draws)):
            rng = np.random.default_rng(zlib.crc32(f"{file}|{name}{f'|{draw}' if draw else ''}".encode()))
            centre = declared if declared and 40 <= declared <= 260 else STYLE_TEMPO.get(style, 110.0)
            bpm = round(float(np.clip(centre * np.exp(rng.uniform(np.log(0.7), np.log(1.4))), 50, 220)), 1)
            bars = int(np.ceil(seconds / (metre * 60 / bpm))) + 3
            groove = Groove(file, name, style, 120.0)
            try:
                content = read_midi(render_midi(groove, bars))
            except RuntimeError:
                continue  # mma could not compile this groove on its own
            if content.time_signature[0] != metre: continue
            beats = [(t / content.seconds_per_beat, GM_VOICES[n], v / 127) for t, n, v in content.drums if n in GM_VOICES]
            if len(beats) < 3 * bars: continue  # no real drum part
            played, swing, unit = humanise(beats, style, bpm, rng)
            start = float(rng.uniform(1, 1 + metre)) * 60 / bpm  # a clip starts anywhere in the second bar
            kit = ACOUSTIC_HELD_OUT_KITS[zlib.crc32(f"{file}|{name}|kit".encode()) % len(ACOUSTIC_HELD_OUT_KITS)]
            hits = [DrumHit(t - start, voice, v) for t, voice, v in played if start - 0.05 <= t < start + seconds]
            audio = render_drums(hits, kit, int(seconds * 22050), 22050, rng)
            if progress: print(f"{file}:{name} {bpm} BPM {metre}/4 {style} swing {swing:.1f}/{unit}", file=sys.stderr)
            yield dict(file=file, source=file.split("/")[0], groove=name, draw=draw, style=style, bpm=bpm, meter=metre,
                       swing=swing, unit=unit, kit=kit, audio=(0.9 * audio / (np.abs(audio).max() + 1e-12)).astype(np.float32))


STYLE_TEMPO = {"rock": 120.0, "funk": 103.0, "latin": 110.0, "jazz": 145.0, "rnb": 95.0, "boom-bap": 91.0,
               "house": 123.0, "reggae": 80.0, "afro": 109.0, "waltz": 132.0, "other": 110.0}  # when a file states none


# ------------------------------------------------------------------------------------------------ metre fit

METER_C_GRID, METER_WEIGHT_GRID = (0.3, 3.0, 30.0), (2.0, 4.0, 8.0, 16.0)


def meter_examples(clips: Iterator[dict]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    "Metre features at the analysis's own tempo and beats, 3/4 labels and a group (file or pattern) per clip."
    from beat_selection.features import (band_novelty, compute_spectra, estimate_tempo, meter_features,
                                         tempo_salience, track_beats)
    rows, labels, groups = [], [], []
    for clip in clips:
        bands = band_novelty(compute_spectra(clip["audio"]))
        onsets = sum(bands.values())
        beats = track_beats(onsets, estimate_tempo(bands, tempo_salience(onsets))[0].bpm)
        rows.append(meter_features(bands, beats)); labels.append(clip.get("meter", 4) == 3)
        groups.append(clip.get("file", clip.get("name", clip.get("style"))))
    return np.array(rows), np.array(labels), groups


def tuning_clips(seconds: float = 20.0) -> Iterator[dict]:
    "Everything the analysis may be tuned on: the MMA files not held out, swing loops and grooves of seed 0."
    yield from human_mma_set(held_out=False, seconds=seconds)
    yield from swing_loops(seconds=seconds, seed=0)
    for clip in groove_set(4, seconds, seed=0, parts=("full", "drums")):
        yield dict(name=clip.style, style=clip.style, bpm=clip.bpm, meter=clip.meter, audio=clip.audio)


def fit_meter() -> None:
    "Choose the metre regression by cross-validation grouped by file on the tuning clips; print its weights."
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    x, y, groups = meter_examples(tuning_clips())
    scored = []
    for c in METER_C_GRID:
        for weight in METER_WEIGHT_GRID:
            predicted = np.zeros(len(y), bool)
            for train, test in GroupKFold(5).split(x, y, groups):
                model = LogisticRegression(C=c, class_weight={True: weight, False: 1.0}, max_iter=1000)
                predicted[test] = model.fit(x[train], y[train]).predict(x[test])
            balanced = (np.mean(predicted[y]) + np.mean(~predicted[~y])) / 2  # 3/4 is rare: both must be found
            scored.append((balanced, float(np.mean(predicted == y)), c, weight))
    balanced, accuracy, c, weight = max(scored)
    model = LogisticRegression(C=c, class_weight={True: weight, False: 1.0}, max_iter=1000).fit(x, y)
    print(f"{len(y)} clips ({int(y.sum())} in 3/4); cross-validated balanced accuracy {balanced:.3f}, "
          f"accuracy {accuracy:.3f} at C={c}, 3/4 weight {weight}")
    print(f"METER_WEIGHTS = np.array({[round(float(w), 4) for w in model.coef_[0]]})")
    print(f"METER_BIAS = {round(float(model.intercept_[0]), 4)}")


# ------------------------------------------------------------------------------------------------ tempo prior fit

PRIOR_WEIGHT_GRID = (0.25, 0.5, 0.75, 1.0)
TEMPO_SLOPE_GRID = (0.0, -0.5, -1.0, -1.5, -2.0, -2.5, -3.0, -4.0)


def tempo_score_parts(clips: Iterator[dict]) -> list[dict]:
    "Per clip: its candidates' BPM, the level model's and the classifier's log-probabilities, its tempo and file."
    from beat_selection.features import (BPM_GRID, band_novelty, compute_spectra, level_features, prior_at,
                                         salience_peaks, tempo_level_model, tempo_prior, tempo_salience)
    rows = []
    for clip in clips:
        bands = band_novelty(compute_spectra(clip["audio"]))
        salience = tempo_salience(sum(bands.values()))
        peaks = salience_peaks(salience)
        bpms = BPM_GRID[peaks]
        rows.append(dict(bpms=bpms, bpm=clip["bpm"], file=clip["file"],
                         level=np.log(tempo_level_model().probabilities(level_features(bands, salience, peaks)) + 1e-12),
                         prior=prior_at(tempo_prior().log_probabilities(bands), bpms)))
    return rows


def fit_tempo_prior(tempo_draws: int = 3) -> None:
    """Choose the classifier's weight and the tempo slope (`features.PRIOR_WEIGHT`, `features.TEMPO_SLOPE`) on the
    MMA tuning half, `tempo_draws` tempos per groove: Acc1 of every setting, and five folds grouped by file."""
    from sklearn.model_selection import GroupKFold

    from beat_selection.features import tempo_log_scores
    rows = tempo_score_parts(human_mma_set(held_out=False, tempo_draws=tempo_draws))
    grid = [(w, s) for w in PRIOR_WEIGHT_GRID for s in TEMPO_SLOPE_GRID]
    hits = np.array([[tempo_hits(r["bpms"][np.argmax(tempo_log_scores(r["level"], r["prior"], r["bpms"], w, s))],
                                 r["bpm"])[0] for w, s in grid] for r in rows])
    print(f"{len(rows)} clips of the MMA tuning half; Acc1 (%) by classifier weight (rows) and slope (columns)\n")
    print("| weight | " + " | ".join(f"slope {s}" for s in TEMPO_SLOPE_GRID) + " |")
    print("|---|" + "---|" * len(TEMPO_SLOPE_GRID))
    for i, w in enumerate(PRIOR_WEIGHT_GRID):
        cells = hits[:, i * len(TEMPO_SLOPE_GRID):(i + 1) * len(TEMPO_SLOPE_GRID)].mean(axis=0)
        print(f"| {w} | " + " | ".join(f"{100 * a:.1f}" for a in cells) + " |")
    chosen, cross = [], np.zeros(len(rows), bool)
    for train, test in GroupKFold(5).split(hits, groups=[r["file"] for r in rows]):
        best = int(np.argmax(hits[train].mean(axis=0)))  # a tie goes to the first: the smaller weight, then the flatter slope
        chosen.append(grid[best]); cross[test] = hits[test, best]
    best = grid[int(np.argmax(hits.mean(axis=0)))]
    print(f"\nchosen per fold: {chosen}; cross-validated Acc1 {100 * cross.mean():.1f} %")
    print(f"PRIOR_WEIGHT = {best[0]}, TEMPO_SLOPE = {best[1]}: Acc1 {100 * hits.mean(axis=0).max():.1f} % on all of them")


def tempo_hits(estimate: float, truth: float) -> tuple[bool, bool]:
    "Acc1 and Acc2 of one estimate."
    acc1 = abs(estimate / truth - 1) <= 0.04
    return acc1, acc1 or any(abs(estimate / (truth * f) - 1) <= 0.04 for f in (2, 3, 1 / 2, 1 / 3))


def librosa_tempo(y: np.ndarray, sr: int) -> float:
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    return float(np.atleast_1d(tempo)[0])


def librosa_key(y: np.ndarray, sr: int) -> str:
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr).mean(axis=1)
    scores = [(np.corrcoef(chroma, np.roll(p, t))[0, 1], t, m)
              for m, p in (("major", KRUMHANSL_MAJOR), ("minor", KRUMHANSL_MINOR)) for t in range(12)]
    _, tonic, mode = max(scores)
    return f"{PITCH_CLASSES[tonic]} {mode}"


def timed(fn, *args):
    start = time.process_time()
    out = fn(*args)
    return out, time.process_time() - start


def mirex(reference: str, estimate: str) -> float:
    return float(mir_eval.key.weighted_score(reference, estimate))


def run_grooves(per_style: int, seconds: float) -> dict:
    rows, cpu = [], defaultdict(float)
    for clip in groove_set(per_style, seconds, seed=1):
        a, t_ours = timed(analyze, clip.audio)
        (base_tempo, base_key), t_base = timed(lambda y: (librosa_tempo(y, clip.sr), librosa_key(y, clip.sr)), clip.audio)
        cpu["ours"] += t_ours; cpu["librosa"] += t_base; cpu["minutes"] += len(clip.audio) / clip.sr / 60
        truth_key = None if clip.tonic is None else f"{PITCH_CLASSES[clip.tonic]} {clip.mode}"
        rows.append(dict(style=clip.style, parts=clip.parts, kit=clip.kit, bpm=clip.bpm, key=truth_key,
                         ours=(a.tempo, a.key_name), librosa=(base_tempo, base_key), meter=clip.meter,
                         ours_meter=a.time_signature, swing=100 * clip.swing, ours_swing=a.swing))
    return dict(rows=rows, cpu=dict(cpu))


def tempo_table(rows: list[dict], group) -> list[tuple]:
    "(group, n, ours Acc1, Acc2, librosa Acc1, Acc2) per group value."
    groups = defaultdict(list)
    for r in rows: groups[group(r)].append(r)
    table = []
    for name, rs in sorted(groups.items()):
        ours = np.array([tempo_hits(r["ours"][0], r["bpm"]) for r in rs])
        base = np.array([tempo_hits(r["librosa"][0], r["bpm"]) for r in rs])
        table.append((name, len(rs), *ours.mean(axis=0), *base.mean(axis=0)))
    return table


def key_table(rows: list[dict], group) -> list[tuple]:
    groups = defaultdict(list)
    for r in rows:
        if r["key"] is not None: groups[group(r)].append(r)
    return [(name, len(rs), np.mean([mirex(r["key"], r["ours"][1]) for r in rs]),
             np.mean([mirex(r["key"], r["librosa"][1]) for r in rs])) for name, rs in sorted(groups.items())]


def run_real_keys(n: int) -> list[dict]:
    rows = []
    for i, clip in enumerate(real_key_set(n=n)):
        truth = f"{PITCH_CLASSES[clip.tonic]} {clip.mode}"
        rows.append(dict(style=clip.instrument, key=truth, ours=(0, analyze(clip.audio).key_name),
                         librosa=(0, librosa_key(clip.audio, clip.sr)), minor=clip.mode == "minor",
                         held_out=i % 2 == 1))  # the key constants were chosen on the even half
    return rows


PEAK_MEMORY_SNIPPET = """
import re, time
import numpy as np
{imports}
{warm_up}
start = time.process_time()
{call}
high_water = re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)
print(int(high_water) / 1024, time.process_time() - start)
"""


def peak_memory_mb(path: str, which: str) -> tuple[float, float]:
    "Peak RSS (MB, VmHWM: this process only) and CPU seconds of analysing `path` in a fresh process, JIT warmed."
    noise = "np.random.default_rng(0).standard_normal(22050 * 5).astype(np.float32)"
    if which == "ours":
        code = PEAK_MEMORY_SNIPPET.format(imports="from beat_selection.features import analyze",
                                          warm_up=f"analyze({noise})", call=f"analyze({path!r})")
    else:
        code = PEAK_MEMORY_SNIPPET.format(
            imports="from beat_selection.core import import_librosa; librosa = import_librosa()",
            warm_up=f"librosa.beat.beat_track(y={noise}, sr=22050)",
            call=f"y, sr = librosa.load({path!r}, sr=22050); librosa.beat.beat_track(y=y, sr=sr); "
                 "librosa.feature.chroma_cqt(y=y, sr=sr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    mb, seconds = out.stdout.split()
    return float(mb), float(seconds)


def ten_minute_file(folder: str) -> str:
    "Ten minutes of a groove at 44.1 kHz stereo, the shape of a long track from a DAW."
    clip = next(iter(groove_set(1, 60.0, sr=44_100, seed=2, parts=("full",))))
    path = os.path.join(folder, "ten_minutes.wav")
    sf.write(path, np.tile(np.stack([clip.audio, clip.audio], axis=1), (10, 1)), 44_100, subtype="PCM_16")
    return path


OLD_TRACKER_COMMIT = "1d27129"  # the last commit whose analysis ran librosa's numba beat tracker

COLD_SNIPPET = """
import sys, time
start = time.perf_counter()
from beat_selection.features import analyze
analyze(sys.argv[1])
print(time.perf_counter() - start)
"""

WARM_SNIPPET = """
import sys, time
import numpy as np, soundfile as sf
from beat_selection.features import analyze
clips = [sf.read(path, dtype="float32")[0] for path in sys.argv[1:]]
analyze(clips[0])  # warm: imports, caches, any compilation
start = time.process_time()
for clip in clips: analyze(clip)
print(time.process_time() - start, sum(len(c) for c in clips) / 22050 / 60)
"""


def export_old_package(folder: Path) -> Path:
    "`beat_selection` as of `OLD_TRACKER_COMMIT`, exported into `folder` (which then goes first on the path)."
    repo = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "-C", str(repo), "archive", OLD_TRACKER_COMMIT, "beat_selection"],
                             capture_output=True, check=True).stdout
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def fresh_process(snippet: str, args: list[str], package_root: Path, caches: Path) -> list[float]:
    "Run `snippet` in a new interpreter with `package_root` first on the path and empty-or-given caches."
    env = {**os.environ, "PYTHONPATH": str(package_root), "NUMBA_CACHE_DIR": str(caches / "numba"),
           "HOME": str(caches / "home")}
    (caches / "home").mkdir(parents=True, exist_ok=True)
    out = subprocess.run([sys.executable, "-c", snippet, *args], capture_output=True, text=True, env=env,
                         cwd=str(caches), check=True)
    return [float(v) for v in out.stdout.split()[-2:]] if snippet is WARM_SNIPPET else [float(out.stdout.split()[-1])]


def startup_and_speed(n_clips: int = 12, repeats: int = 3) -> dict:
    "Cold first-analysis wall time and warm CPU per audio minute: this package vs the librosa-numba one."
    ours_root = Path(__file__).resolve().parents[1]
    sample = str(ours_root / "data" / "sample.wav")
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        old_root = export_old_package(folder / "old")
        paths = []
        for i, clip in enumerate(groove_set(1, 30.0, seed=3, parts=("full",))):
            if i == n_clips: break
            paths.append(str(folder / f"clip{i}.wav")); sf.write(paths[-1], clip.audio, clip.sr)
        roots = {"ours": ours_root, "librosa-numba": old_root}
        for name, root in roots.items():
            caches = folder / f"caches-{name}"
            cold = fresh_process(COLD_SNIPPET, [sample], root, caches)[0]       # empty caches
            second = fresh_process(COLD_SNIPPET, [sample], root, caches)[0]     # caches as the first left them
            out[name] = dict(cold=cold, second=second, cpu_per_minute=np.inf)
        for _ in range(repeats):  # alternated, best of `repeats`: other work on the machine only ever adds time
            for name, root in roots.items():
                cpu, minutes = fresh_process(WARM_SNIPPET, paths, root, folder / f"caches-{name}")
                out[name]["cpu_per_minute"] = min(out[name]["cpu_per_minute"], cpu / minutes)
    return out


# ------------------------------------------------------------------------------------------------ held out

def librosa_tempos(y: np.ndarray, sr: int) -> tuple[float, float]:
    "Plain librosa: the tempo `beat_track` reports and `feature.tempo`'s, both with their defaults."
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    return float(np.atleast_1d(tempo)[0]), float(np.atleast_1d(librosa.feature.tempo(y=y, sr=sr))[0])


def analyse_held_out(clips: Iterator[dict], source: str) -> list[dict]:
    "Our reading and plain librosa's of every clip, with its labels (no audio)."
    rows = []
    for clip in clips:
        a = analyze(clip["audio"])
        beat_track, feature_tempo = librosa_tempos(clip["audio"], 22050)
        rows.append(dict({k: v for k, v in clip.items() if k != "audio"}, set=source, ours=a.tempo, meter_ours=a.time_signature,
                         swing_ours=a.swing, unit_ours=a.swing_unit, beat_track=beat_track, feature_tempo=feature_tempo))
    return rows


def held_out_rows(seconds: float = 20.0) -> list[dict]:
    "MMA files held out of tuning, played with human timing; swing loops and generated grooves of seed 1."
    rows = analyse_held_out(human_mma_set(held_out=True, seconds=seconds), "mma")
    rows += analyse_held_out(swing_loops(seconds=seconds, seed=1), "loops")
    grooves = (dict(name=c.name, style=c.style, bpm=c.bpm, meter=c.meter, swing=100 * c.swing, audio=c.audio)
               for c in groove_set(4, seconds, seed=1, parts=("full", "drums")))
    return rows + analyse_held_out(grooves, "grooves")


def accuracy_row(name: str, rows: list[dict]) -> str:
    cells = []
    for key in ("ours", "beat_track", "feature_tempo"):
        hits = np.array([tempo_hits(r[key], r["bpm"]) for r in rows])
        cells += [pct(hits[:, 0].mean()), pct(hits[:, 1].mean())]
    return f"| {name} | {len(rows)} | " + " | ".join(cells) + " |"


def held_out_report(rows: list[dict]) -> str:
    mma = [r for r in rows if r["set"] == "mma"]
    lines = ["## Tempo with human timing on third-party patterns (MMA files held out of all tuning)", "",
             "Acc1 within 4 %; Acc2 also at x2, x3, x1/2, x1/3. librosa: `beat.beat_track` and `feature.tempo` with defaults.", "",
             "| | n | ours Acc1 | ours Acc2 | beat_track Acc1 | beat_track Acc2 | feature.tempo Acc1 | feature.tempo Acc2 |",
             "|---|---|---|---|---|---|---|---|", accuracy_row("all held-out MMA files", mma)]
    for source in sorted({r["source"] for r in mma}):
        lines.append(accuracy_row(f"source: {source}", [r for r in mma if r["source"] == source]))
    for style in sorted({r["style"] for r in mma}):
        lines.append(accuracy_row(f"style: {style}", [r for r in mma if r["style"] == style]))
    for tempo, picked in [("slow (< 90 BPM)", lambda r: r["bpm"] < 90), ("fast (≥ 140 BPM)", lambda r: r["bpm"] >= 140)]:
        lines.append(accuracy_row(f"tempo: {tempo}", [r for r in mma if picked(r)]))
    lines.append(accuracy_row("generated grooves, seed 1 (regression check)", [r for r in rows if r["set"] == "grooves"]))
    lines.append(accuracy_row("swing loops, seed 1 (regression check)", [r for r in rows if r["set"] == "loops"]))
    lines += ["", "## Metre (beats per bar) on held-out material", "", "| | n | right |", "|---|---|---|"]
    for name, picked in [("MMA held out, all", lambda r: r["set"] == "mma"),
                         ("MMA held out, 3/4 files", lambda r: r["set"] == "mma" and r["meter"] == 3),
                         ("MMA held out, 4/4 files", lambda r: r["set"] == "mma" and r["meter"] == 4),
                         ("MMA held out, swung 4/4 (jazz, hip-hop, R&B, funk, reggae)",
                          lambda r: r["set"] == "mma" and r["meter"] == 4 and r["swing"] > 52),
                         ("generated grooves, seed 1, 3/4 (waltz)", lambda r: r["set"] == "grooves" and r["meter"] == 3),
                         ("generated grooves, seed 1, 4/4", lambda r: r["set"] == "grooves" and r["meter"] == 4),
                         ("swing loops, seed 1 (all 4/4)", lambda r: r["set"] == "loops")]:
        rs = [r for r in rows if picked(r)]
        lines.append(f"| {name} | {len(rs)} | {pct(np.mean([r['meter_ours'] == r['meter'] for r in rs]))} |")
    loops = [r for r in rows if r["set"] == "loops"]
    lines += ["", "## Swing on loops with known settings (seed 1: not tuned on)", "",
              "| | n | median error (points) | within 4 points | unit right (swung loops) |", "|---|---|---|---|---|"]
    for name in ["all"] + list(SWING_PATTERNS):
        rs = [r for r in loops if name == "all" or r["name"] == name]
        errors = np.abs([r["swing_ours"] - r["swing"] for r in rs])
        swung = [r for r in rs if r["swing"] > 50]
        lines.append(f"| {name} | {len(rs)} | {np.median(errors):.1f} | {pct(np.mean(errors < 4))} | "
                     f"{pct(np.mean([r['unit_ours'] == r['unit'] for r in swung]))} |")
    return "\n".join(lines)


def pct(x: float) -> str:
    return f"{100 * x:5.1f}"


def report(grooves: dict, real: list[dict], memory: dict, startup: dict | None = None) -> str:
    rows = grooves["rows"]
    rhythmic = [r for r in rows if r["parts"] != "harmony"]
    lines = ["## Tempo (generated grooves, seed 1: full mixes and drums only)", "",
             "| | n | ours Acc1 | ours Acc2 | librosa Acc1 | librosa Acc2 |", "|---|---|---|---|---|---|"]
    for name, n, a1, a2, b1, b2 in tempo_table(rhythmic, lambda r: "all") + tempo_table(rhythmic, lambda r: r["style"]):
        lines.append(f"| {name} | {n} | {pct(a1)} | {pct(a2)} | {pct(b1)} | {pct(b2)} |")
    for name, n, a1, a2, b1, b2 in tempo_table(rows, lambda r: f"stem: {r['parts']}") + tempo_table(rhythmic, lambda r: f"kit: {r['kit']}"):
        lines.append(f"| {name} | {n} | {pct(a1)} | {pct(a2)} | {pct(b1)} | {pct(b2)} |")
    lines += ["", "## Groove (full mixes and drums only; no librosa counterpart)", "",
              "| | n | ours |", "|---|---|---|"]
    for name, picked in [("time signature right, 3/4 (waltz)", lambda r: r["meter"] == 3),
                         ("time signature right, 4/4", lambda r: r["meter"] == 4)]:
        rs = [r for r in rhythmic if picked(r)]
        lines.append(f"| {name} | {len(rs)} | {pct(np.mean([r['ours_meter'] == r['meter'] for r in rs]))} |")
    for name, picked, right in [("swung (≥ 56 %) reported swung (≥ 54 %)", lambda r: r["swing"] >= 56, lambda r: r["ours_swing"] >= 54),
                                ("straight (≤ 52 %) reported straight (< 54 %)", lambda r: r["swing"] <= 52, lambda r: r["ours_swing"] < 54)]:
        rs = [r for r in rhythmic if picked(r)]
        lines.append(f"| {name} | {len(rs)} | {pct(np.mean([right(r) for r in rs]))} |")
    lines += ["", "## Key (MIREX weighted score, mir_eval)", "", "| set | n | ours | librosa + Krumhansl |", "|---|---|---|---|"]
    for name, n, ours, base in key_table(rows, lambda r: "grooves: all with harmony") + key_table(rows, lambda r: f"grooves: {r['parts']}"):
        lines.append(f"| {name} | {n} | {pct(ours)} | {pct(base)} |")
    if real:
        groups = (key_table(real, lambda r: "real scores (music21 corpus): all")
                  + key_table(real, lambda r: "real scores: " + ("odd half, held out" if r["held_out"] else "even half, used for tuning"))
                  + key_table(real, lambda r: f"real scores: {'minor' if r['minor'] else 'major'}"))
        for name, n, ours, base in groups:
            lines.append(f"| {name} | {n} | {pct(ours)} | {pct(base)} |")
    cpu = grooves["cpu"]
    lines += ["", "## Speed (one core)", "", "| | ours | librosa |", "|---|---|---|",
              f"| CPU s per minute of audio (30 s clips) | {cpu['ours'] / cpu['minutes']:.3f} | {cpu['librosa'] / cpu['minutes']:.3f} |"]
    if memory:
        lines += [f"| 10-minute 44.1 kHz stereo WAV: peak memory (MB) | {memory['ours'][0]:.0f} | {memory['librosa'][0]:.0f} |",
                  f"| 10-minute file: CPU s, decode included | {memory['ours'][1]:.2f} | {memory['librosa'][1]:.2f} |"]
    if startup:
        ours, old = startup["ours"], startup["librosa-numba"]
        lines += ["", f"## Start-up: NumPy beat tracker vs librosa's numba tracker (package at {OLD_TRACKER_COMMIT})", "",
                  "| | ours | librosa-numba |", "|---|---|---|",
                  f"| first analyze, fresh process, empty caches (wall s, import included) | {ours['cold']:.2f} | {old['cold']:.2f} |",
                  f"| first analyze, next fresh process, caches kept (wall s) | {ours['second']:.2f} | {old['second']:.2f} |",
                  f"| warm CPU s per minute of audio (12 clips of 30 s, best of 3) | {ours['cpu_per_minute']:.3f} | {old['cpu_per_minute']:.3f} |"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-style", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--real", type=int, default=120, help="real scores for key (0 to skip)")
    parser.add_argument("--quick", action="store_true", help="2 clips per style, no real scores, no memory run")
    parser.add_argument("--json", type=Path, help="also write the raw rows here")
    parser.add_argument("--fit-meter", action="store_true", help="fit the metre regression on the tuning clips and print it")
    parser.add_argument("--fit-tempo-prior", action="store_true",
                        help="choose the classifier weight and tempo slope on the tuning half and print them")
    parser.add_argument("--held-out-only", action="store_true", help="only the held-out tempo, metre and swing tables")
    args = parser.parse_args()
    if args.fit_meter:
        fit_meter()
        return
    if args.fit_tempo_prior:
        fit_tempo_prior()
        return
    if args.held_out_only:
        rows = held_out_rows()
        if args.json: args.json.write_text(json.dumps(rows, default=str))
        print(held_out_report(rows))
        return
    if args.quick: args.per_style, args.real = 2, 0
    analyze(np.random.default_rng(0).standard_normal(22050 * 5).astype(np.float32))  # imports and caches off the clock
    grooves = run_grooves(args.per_style, args.seconds)
    if args.real and not SOUNDFONT.exists():
        print(f"(no {SOUNDFONT}: install Debian's fluid-soundfont-gm for the real-score key set)", file=sys.stderr)
        args.real = 0
    real = run_real_keys(args.real) if args.real else []
    memory = {}
    if not args.quick:
        with tempfile.TemporaryDirectory() as d:
            path = ten_minute_file(d)
            memory = {which: peak_memory_mb(path, which) for which in ("ours", "librosa")}
    startup = startup_and_speed()
    held_out = held_out_rows()
    print(report(grooves, real, memory, startup) + "\n\n" + held_out_report(held_out))
    if args.json:
        args.json.write_text(json.dumps(dict(grooves=grooves, real=real, memory=memory, startup=startup, held_out=held_out), default=str))


if __name__ == "__main__":
    main()
