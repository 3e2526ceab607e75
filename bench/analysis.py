"""Accuracy and speed of `beat_selection.features.analyze` beside plain librosa, measured in one run.

    python bench/analysis.py [--per-style 8] [--seconds 30] [--real 120] [--quick]

Tempo: Acc1 (within 4 %) and Acc2 (also at x2, x3, x1/2, x1/3) on generated grooves (bench/grooves.py,
seed 1: the analysis was tuned on seed 0), per style and per stem. Key: MIREX weighted score (mir_eval) on
the grooves' harmony and on real scores from music21's corpus (bench/real_keys.py). Speed: CPU seconds per
minute of audio on one core, and peak memory of a 10-minute file in a fresh process. Baseline:
`librosa.beat.beat_track` for tempo, `chroma_cqt` with Krumhansl-Kessler profiles for key.
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")  # "one core": set before numpy loads its BLAS

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import librosa
import mir_eval
import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from grooves import groove_set  # noqa: E402
from real_keys import SOUNDFONT, real_key_set  # noqa: E402

from beat_selection.features import PITCH_CLASSES, analyze  # noqa: E402

KRUMHANSL_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KRUMHANSL_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


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
                         ours_meter=a.time_signature, swing=clip.swing / (1 - clip.swing), ours_swing=a.swing))
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
            imports="import librosa", warm_up=f"librosa.beat.beat_track(y={noise}, sr=22050)",
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


def pct(x: float) -> str:
    return f"{100 * x:5.1f}"


def report(grooves: dict, real: list[dict], memory: dict) -> str:
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
    for name, picked, right in [("swung (ratio ≥ 1.3) reported swung (≥ 1.2)", lambda r: r["swing"] >= 1.3, lambda r: r["ours_swing"] >= 1.2),
                                ("straight (ratio ≤ 1.1) reported straight (< 1.2)", lambda r: r["swing"] <= 1.1, lambda r: r["ours_swing"] < 1.2)]:
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
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-style", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--real", type=int, default=120, help="real scores for key (0 to skip)")
    parser.add_argument("--quick", action="store_true", help="2 clips per style, no real scores, no memory run")
    parser.add_argument("--json", type=Path, help="also write the raw rows here")
    args = parser.parse_args()
    if args.quick: args.per_style, args.real = 2, 0
    analyze(np.random.default_rng(0).standard_normal(22050 * 5).astype(np.float32))  # JIT warm-up off the clock
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
    print(report(grooves, real, memory))
    if args.json: args.json.write_text(json.dumps(dict(grooves=grooves, real=real, memory=memory), default=str))


if __name__ == "__main__":
    main()
