"""Accuracy and speed of `beat_selection.features.analyze` beside plain librosa, measured in one run.

    python bench/analysis.py [--per-style 8] [--seconds 30] [--real 120] [--quick]

Tempo: Acc1 (within 4 %) and Acc2 (also at x2, x3, x1/2, x1/3) on generated grooves (bench/grooves.py,
seed 1: the analysis was tuned on seed 0), per style and per stem. Key: MIREX weighted score (mir_eval) on
the grooves' harmony and on real scores from music21's corpus (bench/real_keys.py). Speed: CPU seconds per
minute of audio on one core, and peak memory of a 10-minute file in a fresh process. Baseline:
`librosa.beat.beat_track` for tempo, `chroma_cqt` with Krumhansl-Kessler profiles for key.

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
    args = parser.parse_args()
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
    print(report(grooves, real, memory, startup))
    if args.json: args.json.write_text(json.dumps(dict(grooves=grooves, real=real, memory=memory, startup=startup), default=str))


if __name__ == "__main__":
    main()
