"""How well `beat_selection.recommend` finds beats that fit, printed as a markdown report for bench/RESULTS.md.

    python bench/recommend.py [--per-style 6] [--start 10] [--seconds 20] [--workers 2] [--diagnose]

The catalogue is the default one (`default_catalogue()`, generated on the training kits) plus the full mixes
of `--per-style` beats per style from the held-out split (kits and seeds the style model never saw), from
beat `--start` on: the recommender's constants were chosen on held-out beats 0-3, so the default measures on
others. Each
held-out beat is then turned into queries a producer might upload:

- `no_drums`: the beat with its drums removed (bass and chords only), as rendered by the generator;
- `no_drums, tempo ±2-4 %`: the same stem time-stretched (librosa's phase vocoder) by a random 2-4 %;
- `no_drums, detuned`: the same stem pitch-shifted by ±0.2-0.4 semitone (off concert pitch, same key).

For every query we measure, against the query's true tempo and key (the generator's, adjusted for the
perturbation):

- the share of top-5 matches whose tempo (×1, ×2 or ×½, within ±6 %) and key (same, relative or a fifth on
  the Camelot wheel) are both compatible (target >= 95 %);
- how often the original beat is the top-1 match (target >= 80 %), and in the top 5.

`--diagnose` adds where the misses come from: how the query's key and tempo were read against the truth,
why each incompatible top-5 match was let in, and the figures again with the true tempo, key or both given to
the recommender in place of the analysis' (what a perfect analysis of the query would reach).

The baseline, run on the same queries and catalogue: plain librosa (`beat_track` tempo, `chroma_cqt` with
Krumhansl profiles for the key) ranking beats by tempo fit × key fit, the usual "same BPM, same key" search.
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse
import dataclasses
import platform
import shlex
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from beat_selection.beats import HELD_OUT_KITS, dataset_items, generate_beat, parallel_map, parse_key
from beat_selection.catalogue import default_catalogue, new_record
from beat_selection.features import key_name
from beat_selection.model import describe
from beat_selection.recommend import CatalogueIndex, Query, key_fit, key_relation, recommend, tempo_fit

QUERY_KINDS = ("no_drums", "no_drums, tempo ±2-4 %", "no_drums, detuned")
TOP = 5


def perturb(samples: np.ndarray, sr: int, kind: str, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    "(audio, tempo factor, semitones) of one query kind."
    from beat_selection.core import import_librosa
    librosa = import_librosa()  # compiled once, by one process, into this user's cache
    if kind == "no_drums":
        return samples, 1.0, 0.0
    if kind.startswith("no_drums, tempo"):
        factor = float(rng.choice([-1, 1]) * rng.uniform(0.02, 0.04) + 1)
        return librosa.effects.time_stretch(samples, rate=factor), factor, 0.0
    cents = float(rng.choice([-1, 1]) * rng.uniform(0.2, 0.4))
    return librosa.effects.pitch_shift(samples, sr=sr, n_steps=cents), 1.0, cents


def librosa_estimates(samples: np.ndarray, sr: int) -> tuple[float, str]:
    from analysis import librosa_key, librosa_tempo
    return librosa_tempo(samples, sr), librosa_key(samples, sr)


def describe_beat(job: tuple) -> dict:
    "Render one held-out beat, describe its full mix (for the catalogue) and its queries."
    spec, seed = job
    beat = generate_beat(spec, seed, parts=("full", "no_drums"), kits=HELD_OUT_KITS)
    rng = np.random.default_rng(seed)
    analysis, prediction = describe(beat.stems["full"])
    record = new_record(f"heldout-{spec.style}-{seed}", None, analysis, prediction, "generated", style=spec.style,
                        bpm=beat.bpm, tonic=beat.tonic, mode=beat.mode, seed=seed, kit=beat.kit)
    queries = []
    for kind in QUERY_KINDS:
        samples, factor, semitones = perturb(beat.stems["no_drums"], beat.sr, kind, rng)
        query = Query.of(describe(samples))
        start = time.process_time()
        baseline = librosa_estimates(samples, beat.sr)
        queries.append(dict(kind=kind, query=query, bpm=beat.bpm * factor, tonic=beat.tonic, minor=beat.mode == "minor",
                            baseline=baseline, baseline_cpu=time.process_time() - start))
    return dict(record=record, queries=queries)


def compatible(record, bpm: float, tonic: int, minor: bool) -> bool:
    return tempo_fit(bpm, record.bpm).compatible and key_fit((tonic, minor), (record.tonic, record.mode == "minor")).compatible


def baseline_ranking(index: CatalogueIndex, bpm: float, key: str) -> list[int]:
    "Plain 'same BPM, same key' search: tempo fit × key fit of librosa's estimates."
    tonic, mode = parse_key(key)
    fits = [tempo_fit(bpm, r.bpm).fit * key_fit((tonic, mode == "minor"), (r.tonic, r.mode == "minor")).fit
            for r in index.records]
    return list(np.argsort(-np.array(fits), kind="stable")[:TOP])


def evaluate(described: list[dict], index: CatalogueIndex, baseline: bool = True) -> dict:
    rows = defaultdict(lambda: defaultdict(list))
    for item in described:
        original = item["record"].id
        for q in item["queries"]:
            ours = [m.beat for m in recommend(q["query"], index, top_k=TOP).matches]
            theirs = [index.records[i] for i in baseline_ranking(index, *q["baseline"])] if baseline else None
            for method, top in (("ours", ours), ("librosa", theirs))[:2 if baseline else 1]:
                r = rows[method]
                r[q["kind"]].append((np.mean([compatible(b, q["bpm"], q["tonic"], q["minor"]) for b in top]),
                                     top[0].id == original, original in {b.id for b in top}))
    return rows


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def relation(truth: tuple[int, bool], key: tuple[int, bool]) -> str:
    "How a key relates to the true one: a Camelot neighbour's name, else the interval and mode."
    name, up = key_relation(truth, key), (key[0] - truth[0]) % 12
    if name != "clash":
        return name
    mode = "minor" if key[1] else "major"
    return f"parallel {mode}" if up == 0 else f"{up} semitone{'s' if up > 1 else ''} up, {mode}"


def with_truth(query: Query, bpm: float | None = None, key: tuple[int, bool] | None = None) -> Query:
    "The query with the true tempo and/or key in place of the analysis' (a certain key, no runner-up)."
    changes = {} if bpm is None else {"tempo": bpm}
    if key is not None:
        changes.update(key=key[0], mode=0 if key[1] else 1, key_name=key_name(*key), key_confidence=1.0,
                       key_runner_up=key_name(*key))
    return Query(dataclasses.replace(query.analysis, **changes), query.prediction)


def diagnosis(described: list[dict], index: CatalogueIndex) -> str:
    "Where the misses come from: the query's analysis against the truth, and what a perfect analysis would give."
    readings, causes, n_matches = defaultdict(lambda: defaultdict(int)), defaultdict(int), 0
    for item in described:
        for q in item["queries"]:
            truth, a = (q["tonic"], q["minor"]), q["query"].analysis
            fit = tempo_fit(q["bpm"], a.tempo)
            readings[q["kind"]]["key: " + relation(truth, q["query"].key)] += 1
            readings[q["kind"]]["tempo: " + ("compatible reading" if fit.compatible else "incompatible reading")] += 1
            readings[q["kind"]]["tempo: within 1 % (same reading)"] += fit.reading == 1.0 and abs(fit.stretch) <= 0.01
            for m in recommend(q["query"], index, top_k=TOP).matches:
                n_matches += 1
                beat = (m.beat.tonic, m.beat.mode == "minor")
                if not tempo_fit(q["bpm"], m.beat.bpm).compatible:
                    causes["tempo, the query's reading " + ("incompatible" if not fit.compatible else "compatible")] += 1
                elif not key_fit(truth, beat).compatible:
                    causes[f"key: query read as {relation(truth, q['query'].key)}, beat {relation(q['query'].key, beat)} of that"] += 1
    lines = ["### Diagnosis", "", "How the queries were read (count of queries):", "",
             "| query | reading | queries |", "|---|---|---|"]
    lines += [f"| {kind} | {what} | {n} |" for kind in QUERY_KINDS for what, n in sorted(readings[kind].items())]
    lines += ["", f"Why incompatible matches made the top five ({n_matches} matches):", "", "| cause | matches | share |", "|---|---|---|"]
    lines += [f"| {cause} | {n} | {pct(n / n_matches)} |" for cause, n in sorted(causes.items(), key=lambda kv: -kv[1])]
    lines += ["", "With the truth in place of the analysis:", "", "| given | top-5 compatible | original top-1 |", "|---|---|---|"]
    for given, change in (("nothing (as measured)", lambda q: {}), ("true tempo", lambda q: {"bpm": q["bpm"]}),
                          ("true key", lambda q: {"key": (q["tonic"], q["minor"])}),
                          ("both", lambda q: {"bpm": q["bpm"], "key": (q["tonic"], q["minor"])})):
        swapped = [dict(item, queries=[dict(q, query=with_truth(q["query"], **change(q))) for q in item["queries"]])
                   for item in described]
        ours = np.array([v for vs in evaluate(swapped, index, baseline=False)["ours"].values() for v in vs], dtype=float)
        lines.append(f"| {given} | {pct(ours[:, 0].mean())} | {pct(ours[:, 1].mean())} |")
    return "\n".join(lines)


def report(rows: dict, n_beats: int, n_catalogue: int, seconds: float, elapsed: float) -> str:
    command = "python bench/" + Path(sys.argv[0]).name + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    lines = [f"## Recommendation (`{command}`, {date.today()}, {platform.machine()}, {elapsed / 60:.1f} min)", "",
             f"{n_beats} held-out beats ({seconds:g} s, kits the model never saw) added to the default catalogue "
             f"({n_catalogue} beats in all); each beat queried without its drums, plain and perturbed. "
             f"Compatible: tempo within ±6 % at ×1, ×2 or ×½, and key same / relative / a fifth away, "
             f"judged against the query's true tempo and key.", "",
             "| query | queries | top-5 compatible (target ≥ 95 %) | original beat top-1 (target ≥ 80 %) | original in top 5 | librosa: top-5 compatible | librosa: original top-1 |",
             "|---|---|---|---|---|---|---|"]
    for kind in [*QUERY_KINDS, "all"]:
        pick = lambda method: [v for k, vs in rows[method].items() if kind in ("all", k) for v in vs]
        ours, theirs = np.array(pick("ours"), dtype=float), np.array(pick("librosa"), dtype=float)
        lines.append(f"| {kind} | {len(ours)} | {pct(ours[:, 0].mean())} | {pct(ours[:, 1].mean())} | "
                     f"{pct(ours[:, 2].mean())} | {pct(theirs[:, 0].mean())} | {pct(theirs[:, 1].mean())} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-style", type=int, default=6)
    parser.add_argument("--start", type=int, default=10, help="first held-out beat (0-3 were used to tune)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--diagnose", action="store_true", help="also say where the misses come from")
    args = parser.parse_args()
    started = time.time()
    catalogue = default_catalogue(workers=args.workers)
    items = dataset_items("held_out", args.per_style, args.seconds, start=args.start)
    described = list(parallel_map(describe_beat, items, workers=args.workers, desc="held-out beats and queries"))
    index = CatalogueIndex.from_records(catalogue.list(limit=len(catalogue)) + [d["record"] for d in described])
    rows = evaluate(described, index)
    print(report(rows, len(described), len(index), args.seconds, time.time() - started))
    if args.diagnose:
        print("\n" + diagnosis(described, index))


if __name__ == "__main__":
    main()
