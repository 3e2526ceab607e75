"""Tempo, metre and style on full songs made by people: the demo projects Debian's LMMS packages ship.

    python bench/lmms_songs.py [--table data/lmms_songs.json]   # needs Debian's lmms: it renders the projects

Source: every project under `/usr/share/lmms/projects/demos` and `.../shorties` (package `lmms-common`),
rendered to WAV by LMMS itself (`lmms --render`, 44.1 kHz, no display needed) and cached under the user's
cache folder; nothing of them is committed. They are songs and sketches people made in LMMS, with their own
synthesizers, samples and drum programming: no drum pattern of them was ever in our training or tuning, and
nothing here is fitted or chosen on them. The truth is what the producer set in the project itself: its tempo
(`<head bpm=...>`) and its time signature (`timesig_numerator`), read from the project file. Acc1: within 4 %
of the project's tempo; Acc2: also at ×2, ×3, ×½, ×⅓. Beside ours, in the same run, plain librosa
(`beat.beat_track` and `feature.tempo`, defaults) on the same audio.

Style: only the projects whose name says a style are labelled, by this frozen table (`NAMED_STYLES`), written
before any model ran on them: "ReggaetonTry" reggaeton, "ReggaeTry" reggae/dancehall, "ProgressiveHouse"
house, "Crunk" trap (crunk is the Southern hip-hop that trap grew out of: the nearest of our styles; said here
because it is a judgement). Four songs say little; their answers are printed one by one.

`--table` also writes the figures (no audio) as JSON: notebook 01 shows them without LMMS installed.

Licences (the package's `copyright` file, per project): GPL-2+, Artistic-2 (CapDan's Reggae and Reggaeton tries,
Crunk and others), BSD-2-clause (Saber), CC BY-SA 3.0 (Alf42red, CapDan's TwilightArea), CC BY-SA 4.0
(Jousboxx, Skiessi). Rendered audio is for local measurement only and is never redistributed.
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse
import json
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
import zlib
from datetime import date
from pathlib import Path

import numpy as np

from analysis import tempo_hits  # noqa: E402  (bench/: Acc1 and Acc2 as the other tempo benches count them)
from beat_selection.audio import load_audio
from beat_selection.core import STYLE_NAMES, cache_dir, import_librosa, load_or_build
from beat_selection.model import describe

PROJECTS = Path("/usr/share/lmms/projects")
FOLDERS = ("demos", "shorties")
NAMED_STYLES = {"ReggaetonTry": "reggaeton", "ReggaeTry": "reggae", "ProgressiveHouse": "house", "Crunk": "trap"}
RENDER_VERSION = 1  # names the cached renders
RENDER_SECONDS = 600  # a project that takes longer to render is skipped


def project_xml(path: Path) -> ElementTree.Element:
    "The project's XML: `.mmp` plain, `.mmpz` Qt's qCompress (a 4-byte length, then zlib)."
    data = path.read_bytes()
    return ElementTree.fromstring(zlib.decompress(data[4:]) if path.suffix == ".mmpz" else data)


def project_truth(path: Path) -> tuple[float, int]:
    "(tempo in BPM, beats per bar) the producer set in the project."
    head = project_xml(path).find("head")
    return float(head.get("bpm", 140)), int(head.get("timesig_numerator", 4))


def named_style(path: Path) -> str | None:
    return next((style for word, style in NAMED_STYLES.items() if word.lower() in path.stem.lower()), None)


def rendered(path: Path) -> Path:
    "The project rendered by LMMS to WAV (44.1 kHz), cached."
    target = cache_dir() / "bench" / f"lmms-v{RENDER_VERSION}" / f"{path.parent.name}-{path.stem}.wav"

    def build(temporary: Path) -> None:
        command = ["lmms", "--render", str(path), "--output", str(temporary.with_suffix(".wav")), "--format", "wav",
                   "--samplerate", "44100"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--allowroot")
        subprocess.run(command, check=True, capture_output=True, timeout=RENDER_SECONDS,
                       env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
        temporary.with_suffix(".wav").replace(temporary)

    return load_or_build(target, _with_audio, build)


def _with_audio(path: Path) -> Path:
    "`path` if it holds more than a WAV header (else it is rendered again)."
    if path.stat().st_size <= 44:
        raise ValueError(f"{path} holds no audio")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N projects (a quick look)")
    parser.add_argument("--table", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if shutil.which("lmms") is None:
        sys.exit("needs Debian's lmms: apt-get install lmms")
    librosa = import_librosa()  # compiled once, by one process, into this user's cache

    started = time.perf_counter()
    projects = sorted(p for folder in FOLDERS for p in (PROJECTS / folder).rglob("*.mmp*"))[: args.limit or None]
    rows, skipped = [], []
    for path in projects:
        try:
            wav = rendered(path)
        except (subprocess.SubprocessError, OSError, ValueError) as error:
            skipped.append(f"{path.stem} ({type(error).__name__})")
            continue
        bpm, beats_per_bar = project_truth(path)
        audio = load_audio(wav)
        if audio.duration < 5 or float(np.abs(audio.samples).max()) < 1e-4:
            skipped.append(f"{path.stem} (silent)")
            continue
        analysis, prediction = describe(audio)
        y = audio.samples
        onset = librosa.onset.onset_strength(y=y, sr=audio.sr)
        beat_track = float(np.atleast_1d(librosa.beat.beat_track(onset_envelope=onset, sr=audio.sr)[0])[0])
        feature_tempo = float(np.atleast_1d(librosa.feature.tempo(onset_envelope=onset, sr=audio.sr))[0])
        rows.append(dict(name=path.stem, bpm=bpm, meter=beats_per_bar, seconds=audio.duration, ours=analysis.tempo,
                         candidates=[c.bpm for c in analysis.tempo_candidates], meter_found=analysis.time_signature,
                         beat_track=beat_track, feature_tempo=feature_tempo, style=named_style(path),
                         found_style=prediction.style, confidence=prediction.confidence,
                         top3=[s for s, _ in sorted(prediction.probabilities.items(), key=lambda kv: -kv[1])[:3]]))
    elapsed = time.perf_counter() - started

    def accuracy(key: str, level: int) -> str:
        "Acc1 (level 0) or Acc2 (level 1) of one estimator, in percent."
        return f"{100 * np.mean([tempo_hits(r[key], r['bpm'])[level] for r in rows]):.1f}"

    acc1, acc2 = 0, 1
    print(f"## Full songs made by people: LMMS's demo projects ({date.today().isoformat()})\n")
    print(f"```bash\npython bench/{Path(__file__).name}\n```\n")
    print(f"{len(rows)} projects rendered and measured ({', '.join(skipped) or 'none'} skipped), "
          f"{sum(r['seconds'] for r in rows) / 60:.0f} minutes of audio, {elapsed / 60:.1f} min.\n")
    print("| measure | ours | `beat_track` | `feature.tempo` |\n|---|---|---|---|")
    print(f"| tempo Acc1 (the project's tempo, within 4 %) | {accuracy('ours', acc1)} % | {accuracy('beat_track', acc1)} % | "
          f"{accuracy('feature_tempo', acc1)} % |")
    print(f"| tempo Acc2 (also ×2, ×3, ×½, ×⅓) | {accuracy('ours', acc2)} % | {accuracy('beat_track', acc2)} % | "
          f"{accuracy('feature_tempo', acc2)} % |")
    listed = 100 * np.mean([any(tempo_hits(c, r["bpm"])[0] for c in r["candidates"]) for r in rows])
    print(f"| the project's tempo among our tempo candidates | {listed:.1f} % | | |")
    metred = [r for r in rows if r["meter"] in (3, 4)]  # a project set in 1 or 8 says nothing of 3 against 4
    print(f"| metre (beats per bar) as set in the project, of the {len(metred)} set in 3 or 4 | "
          f"{100 * np.mean([r['meter_found'] == r['meter'] for r in metred]):.1f} % | | |\n")
    print("| project | its tempo | ours | `beat_track` | its metre | ours | named style | heard as (top 3) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        style = STYLE_NAMES[r["style"]] if r["style"] else ""
        heard = f"{STYLE_NAMES[r['found_style']]} {r['confidence']:.2f} ({', '.join(STYLE_NAMES[s] for s in r['top3'])})"
        print(f"| {r['name']} | {r['bpm']:g} | {r['ours']:.1f} | {r['beat_track']:.1f} | {r['meter']} | "
              f"{r['meter_found']} | {style} | {heard} |")
    named = [r for r in rows if r["style"]]
    if named:
        top1 = sum(r["found_style"] == r["style"] for r in named)
        top3 = sum(r["style"] in r["top3"] for r in named)
        print(f"\nNamed styles: {top1} of {len(named)} top-1, {top3} of {len(named)} in the top 3.")
    if args.table:
        keep = ("name", "bpm", "meter", "ours", "candidates", "meter_found", "beat_track", "feature_tempo", "style",
                "found_style", "confidence", "top3")
        table = {"source": "the demo projects of Debian's lmms-common, rendered by LMMS (bench/lmms_songs.py)",
                 "date": date.today().isoformat(), "command": f"python bench/{Path(__file__).name} --table {args.table}",
                 "songs": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k in keep} for r in rows]}
        args.table.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
