"""How the service grows: recommendations over catalogues of 1k to 1M beats, and the library scan's throughput.

    python bench/scale.py [--sizes 1000,10000,100000,1000000] [--queries 200] [--scan-files 48] [--scan-seconds 90]
                          [--skip-scan] [--skip-ray] [--scan-only]

Catalogues. The default catalogue (`default_catalogue()`: 24 generated beats per style, each analysed and described
by the shipped style model) is split by beat: the even beats of every style are the *base*, the odd ones are held
out. A catalogue of N beats resamples the base N times and perturbs every copy as another beat of the same kind
would differ: tempo ×0.85-1.15, transposed to a random key (its chroma rotated with it), energy ±0.05, the
embedding and the rhythm grid moved by noise (cosine to the original about 0.9). No audio is needed: the
recommender reads only these numbers.

Queries. The analyses and style predictions of the held-out beats (never resampled into any catalogue), their
tempo moved by ±3 % and their embedding by a little noise so that there are `--queries` different ones. Each is a
ready `Query`: the timings are of the recommendation only, not of the analysis.

Per catalogue size, in a process of its own (so that its resident memory is its own):
- build: seconds to build the `ShortlistIndex` from the beats' arrays;
- memory: the process's resident set (VmRSS) once the index is built, and its peak (VmHWM);
- latency p50/p95 of `recommend(query, Shortlisted(index, fetch), top_k=5)`: the shortlist, then today's full scoring
  of its 50 beats with reasons;
- beside it, in the same run, the baselines: scoring every beat vectorised (`exact_scores` over the whole
  catalogue) and, up to 10k beats, today's `recommend` on a `CatalogueIndex` holding every record (`--today-max`);
- agreement: how often the top 5 of the shortlist path is the same set as the brute force's top 5;
- for the sizes up to 100k with FAISS installed: the same agreement for a shortlist of the 50 nearest embeddings
  (FAISS HNSW, inner product), rescored in full: why the index partitions by tempo and key instead.

Scan: `--scan-files` files of `--scan-seconds` each (`data/sample.wav` repeated, each made different by its gain and
start), scanned with 1 and 2 local processes and with Ray on this machine (a local Ray instance with 2 CPUs), files
per second from start to finish (process start-up included).

Results: printed as markdown, written to bench/scale_results.csv (read by nbs/08_scale.ipynb) and plotted in
bench/scale.png. The machine may be shared: every figure is from one run, beside its baseline.
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import argparse
import csv
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from beat_selection.beats import STYLE_IDS
from beat_selection.catalogue import BeatRecord, default_catalogue
from beat_selection.features import Analysis, camelot, key_name
from beat_selection.model import StylePrediction
from beat_selection.recommend import (GRID_SIZE, BeatArrays, CatalogueIndex, Query, Shortlisted, ShortlistIndex,
                                      exact_scores, recommend, unit_rows)

HERE = Path(__file__).parent
RESULTS_CSV = HERE / "scale_results.csv"
TOP = 5


def memory() -> tuple[float, float]:
    "(resident, peak resident) of this process, in MB."
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def split_catalogue() -> tuple[list[BeatRecord], list[BeatRecord]]:
    "The default catalogue's beats: (base, held out), every other beat of each style held out whole."
    catalogue = default_catalogue(workers=2, progress=False)
    records = sorted(catalogue.list(limit=len(catalogue)), key=lambda r: (r.style, r.bpm, r.id))
    base, held_out = [], []
    for style in STYLE_IDS:
        of_style = [r for r in records if r.style == style]
        base += of_style[::2]
        held_out += of_style[1::2]
    return base, held_out


def perturbed_catalogue(base: list[BeatRecord], size: int, seed: int = 0, chunk: int = 100_000) -> BeatArrays:
    "`size` beats resampled from `base` and perturbed, built a chunk at a time in their stored precision."
    rng = np.random.default_rng(seed)
    source = BeatArrays.from_records(base)
    d = source.embedding.shape[1]
    out = BeatArrays(np.empty(size, dtype="S8"), np.empty(size, np.float32), np.empty(size, np.int16),
                     np.empty(size, np.float32), np.empty(size, np.int16), np.empty((size, d), np.float16),
                     np.empty((size, 12), np.float16), np.empty((size, GRID_SIZE), np.float16), np.empty(size, np.int16))
    for start in range(0, size, chunk):
        n = min(chunk, size - start)
        pick = rng.integers(0, len(source), n)
        rows = slice(start, start + n)
        out.ids[rows] = np.char.encode(np.char.zfill(np.arange(start, start + n).astype(str), 8))  # the id is the row made
        out.bpm[rows] = np.round(source.bpm[pick] * rng.uniform(0.85, 1.15, n), 1)
        shift = rng.integers(0, 12, n)
        minor = np.where(rng.random(n) < 0.8, source.key[pick] % 2, 1 - source.key[pick] % 2)
        out.key[rows] = ((source.key[pick] // 2 + shift) % 12) * 2 + minor
        chroma = source.chroma[pick]
        chroma = np.take_along_axis(chroma, (np.arange(12)[None] - shift[:, None]) % 12, axis=1)  # transposed with it
        out.chroma[rows] = chroma
        out.energy[rows] = np.clip(source.energy[pick] + rng.normal(0, 0.05, n), 0, 1)
        out.style[rows] = source.style[pick]
        noise = rng.standard_normal((n, d)).astype(np.float32) * (0.5 / np.sqrt(d))
        out.embedding[rows] = unit_rows(source.embedding[pick] + noise)
        grid = source.grid[pick] + rng.standard_normal((n, GRID_SIZE)).astype(np.float32) * 0.05
        grid *= (np.arange(GRID_SIZE)[None] < source.grid_length[pick][:, None])  # padding stays zero
        out.grid[rows] = unit_rows(grid)
        out.grid_length[rows] = source.grid_length[pick]
    return out


def record_of(beats: BeatArrays, row: int) -> BeatRecord:
    "The catalogue record of one synthetic beat (what `Catalogue.get_many` would return)."
    tonic, minor = divmod(int(beats.key[row]), 2)
    length = int(beats.grid_length[row])
    return BeatRecord(
        id=beats.ids[row].decode(), name=f"beat {row}", style=STYLE_IDS[int(beats.style[row])], bpm=float(beats.bpm[row]),
        key=key_name(tonic, bool(minor)), camelot=camelot(tonic, bool(minor)), tonic=tonic,
        mode="minor" if minor else "major", energy=float(beats.energy[row]), duration=16.0, source="generated",
        seed=None, kit=None, created_at="2026-01-01T00:00:00+00:00",
        analysis={"chroma": beats.chroma[row].astype(float).tolist(),
                  "rhythm_grid": {"all": beats.grid[row, :length].astype(float).tolist()}},
        style_probabilities={}, embedding=beats.embedding[row].astype(np.float32))


def queries_from(held_out: list[BeatRecord], count: int, seed: int = 1) -> list[Query]:
    "Ready queries from the held-out beats' analyses and predictions, tempo and embedding moved a little."
    rng = np.random.default_rng(seed)
    queries = []
    for i in range(count):
        record = held_out[i % len(held_out)]
        fields = dict(record.analysis)
        fields["tempo"] = round(fields["tempo"] * float(rng.uniform(0.97, 1.03)), 2)
        embedding = unit_rows(record.embedding + rng.standard_normal(len(record.embedding)).astype(np.float32) * 0.02)
        queries.append(Query(Analysis(**fields), StylePrediction(record.style_probabilities, embedding.astype(np.float32))))
    return queries


def brute_force_top(query: Query, beats: BeatArrays, chunk: int = 200_000) -> tuple[set[bytes], float]:
    "The top 5 by scoring every beat (vectorised, in chunks), and the seconds it took."
    start = time.perf_counter()
    scores = np.concatenate([exact_scores(query, beats, slice(i, i + chunk)) for i in range(0, len(beats), chunk)])
    top = np.argsort(-scores, kind="stable")[:TOP]
    return set(beats.ids[top]), time.perf_counter() - start


def one_size(size: int, n_queries: int, today_max: int) -> dict:
    "Every measure for one catalogue size (run in a process of its own)."
    base, held_out = split_catalogue()
    queries = queries_from(held_out, n_queries)
    beats = perturbed_catalogue(base, size)
    start = time.perf_counter()
    index = ShortlistIndex(beats)  # reorders (a copy of) the arrays by partition
    build = time.perf_counter() - start
    del beats
    stored = index.beats
    position = np.empty(size, dtype=np.int64)  # the row (after the index's reordering) of every id
    position[stored.ids.astype(np.int64)] = np.arange(size)
    shortlisted = Shortlisted(index, lambda ids: [record_of(stored, int(position[int(i)])) for i in ids])
    recommend(queries[0], shortlisted)  # first call: imports and caches
    resident, _ = memory()
    latencies, brute, same, scored = [], [], 0, []
    for query in queries:
        t = time.perf_counter()
        answer = recommend(query, shortlisted, top_k=TOP)
        latencies.append(time.perf_counter() - t)
        truth, seconds = brute_force_top(query, stored)
        brute.append(seconds)
        same += {m.beat.id.encode() for m in answer.matches} == truth
        scored.append(index.shortlist(query, 50)[1])
    row = {"beats": size, "build_s": build, "rss_mb": resident, "peak_rss_mb": memory()[1],
           "p50_ms": 1000 * np.percentile(latencies, 50), "p95_ms": 1000 * np.percentile(latencies, 95),
           "brute_p50_ms": 1000 * np.percentile(brute, 50), "brute_p95_ms": 1000 * np.percentile(brute, 95),
           "same_top5": same / len(queries), "scored_median": float(np.median(scored)),
           "today_p50_ms": "", "today_p95_ms": "", "embedding_ann_same_top5": ""}
    if size <= today_max:  # today's recommend over a CatalogueIndex of every record
        everything = CatalogueIndex.from_records([record_of(stored, r) for r in range(size)])
        today = []
        for query in queries:
            t = time.perf_counter()
            recommend(query, everything, top_k=TOP)
            today.append(time.perf_counter() - t)
        row["today_p50_ms"], row["today_p95_ms"] = 1000 * np.percentile(today, 50), 1000 * np.percentile(today, 95)
    try:
        import faiss
    except ImportError:
        faiss = None
    if faiss is not None and size <= 100_000:  # a shortlist of the nearest embeddings, rescored in full
        vectors = stored.embedding.astype(np.float32)
        ann = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        ann.add(vectors)
        agree = 0
        for query in queries:
            _, found = ann.search(query.prediction.embedding[None].astype(np.float32), 50)
            candidates = CatalogueIndex.from_records([record_of(stored, int(r)) for r in found[0] if r >= 0])
            picked = recommend(query, candidates, top_k=TOP)
            agree += {m.beat.id.encode() for m in picked.matches} == brute_force_top(query, stored)[0]
        row["embedding_ann_same_top5"] = agree / len(queries)
    return row


def scan_library(folder: Path, count: int, seconds: float) -> None:
    "`count` different files of `seconds` each, the sample repeated: another gain and start each."
    import soundfile as sf
    samples, sr = sf.read(HERE.parent / "data" / "sample.wav", dtype="float32")
    samples = np.tile(samples, int(np.ceil(seconds * sr / len(samples))))[: int(seconds * sr)]
    folder.mkdir(parents=True)
    for i in range(count):
        start = int((i % 8) * 0.1 * sr)
        sf.write(folder / f"track{i:03d}.wav", np.roll(samples, -start) * (0.3 + 0.6 * i / count), sr)


def scan_throughput(count: int, seconds: float, with_ray: bool) -> list[dict]:
    "Files per second of `beat_selection.scan.scan` with 1 and 2 local processes, and with Ray on this machine."
    from beat_selection.scan import scan
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        library = Path(folder) / "music"
        scan_library(library, count, seconds)
        runs = [("local pool, 1 process", {"workers": 1}), ("local pool, 2 processes", {"workers": 2})]
        if with_ray:
            runs.append(("Ray, this machine (2 CPUs)", {"ray_address": "local"}))
        for name, options in runs:
            out = Path(folder) / name.replace(" ", "_").replace(",", "")
            if options.get("ray_address") == "local":
                import ray
                os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local instance: no token written to ~/.ray
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                         _node_ip_address="127.0.0.1")  # loopback only
                options = {"ray_address": "auto"}
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            report = scan(library, out, progress=False, **options)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)  # local pools only: Ray's workers are not our children
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            rows.append({"run": name, "files": count, "seconds": report.seconds, "files_per_s": report.files_per_second,
                         "worker_cpu_s": cpu if "ray_address" not in options else None})
            print(f"  {name}: {count} files in {report.seconds:.1f} s", file=sys.stderr)
    return rows


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sizes = [r["beats"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.loglog(sizes, [r["p95_ms"] for r in rows], "o-", label="shortlist index, p95")
    left.loglog(sizes, [r["brute_p95_ms"] for r in rows], "s--", label="every beat scored (vectorised), p95")
    today = [(r["beats"], r["today_p95_ms"]) for r in rows if r["today_p95_ms"] != ""]
    if today:
        left.loglog(*zip(*today), "^:", label="today's recommend, p95")
    left.axhline(300, color="grey", lw=0.8)
    left.set(xlabel="beats in the catalogue", ylabel="ms per recommendation", title="latency")
    left.legend(fontsize=8)
    right.semilogx(sizes, [r["rss_mb"] for r in rows], "o-", label="resident")
    right.semilogx(sizes, [r["peak_rss_mb"] for r in rows], "s--", label="peak")
    right.axhline(1024, color="grey", lw=0.8)
    right.set(xlabel="beats in the catalogue", ylabel="MB", title="memory of one process")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--today-max", type=int, default=10_000, help="largest size for today's every-record recommend")
    parser.add_argument("--scan-files", type=int, default=48, help="files scanned by each run")
    parser.add_argument("--scan-seconds", type=float, default=90.0, help="length of each scanned file")
    parser.add_argument("--skip-scan", action="store_true")
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--scan-only", action="store_true", help="only the scan's throughput (the table above is kept)")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # a child: one size, JSON out
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one_size(args.one, args.queries, args.today_max)))
        return
    if not args.scan_only:
        recommendation_sizes(args)
    if not args.skip_scan:
        scans = scan_throughput(args.scan_files, args.scan_seconds, with_ray=not args.skip_ray)
        one = scans[0]["files_per_s"]
        print(f"\n### Scan (`python bench/scale.py {' '.join(sys.argv[1:])}`; {os.cpu_count()} cores, shared with other work)\n")
        # CPU seconds the workers got over the wall time: how many cores the machine actually gave the scan
        print("| scan | files | seconds | files/s | vs 1 process | workers' CPU s (cores used) |\n|---|---|---|---|---|---|")
        for s in scans:
            cpu = f"{s['worker_cpu_s']:.1f} ({s['worker_cpu_s'] / s['seconds']:.2f})" if s["worker_cpu_s"] is not None else "-"
            print(f"| {s['run']} | {s['files']} | {s['seconds']:.1f} | {s['files_per_s']:.2f} | {s['files_per_s'] / one:.2f}x | {cpu} |")


def recommendation_sizes(args: argparse.Namespace) -> None:
    "Every size in a child process; the table printed, written to RESULTS_CSV and plotted."
    split_catalogue()  # built once (or found) before the children read it
    rows = []
    for size in map(int, args.sizes.split(",")):
        child = subprocess.run([sys.executable, __file__, "--one", str(size), "--queries", str(args.queries),
                                "--today-max", str(args.today_max)], capture_output=True, text=True)
        if child.returncode != 0:
            sys.exit(f"size {size} failed:\n{child.stderr[-3000:]}")
        rows.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(f"  {size} beats done", file=sys.stderr)
    with open(RESULTS_CSV, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows)
    plot(rows, HERE / "scale.png")
    print(f"## Scale ({date.today()}, {platform.machine()}, {os.cpu_count()} cores, shared with other work; "
          f"`python bench/scale.py {' '.join(sys.argv[1:])}`)\n")
    print("| beats | build s | RSS MB (peak) | shortlist p50 / p95 ms | every beat, vectorised p50 / p95 ms | "
          "today's recommend p50 / p95 ms | top 5 = brute force | beats scored (median) | embedding-ANN top 5 = brute force |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        today = f"{r['today_p50_ms']:.1f} / {r['today_p95_ms']:.1f}" if r["today_p50_ms"] != "" else "-"
        ann = f"{r['embedding_ann_same_top5']:.0%}" if r["embedding_ann_same_top5"] != "" else "-"
        print(f"| {r['beats']:,} | {r['build_s']:.2f} | {r['rss_mb']:.0f} ({r['peak_rss_mb']:.0f}) | "
              f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f} | {r['brute_p50_ms']:.1f} / {r['brute_p95_ms']:.1f} | {today} | "
              f"{r['same_top5']:.1%} | {r['scored_median']:.0f} | {ann} |")


if __name__ == "__main__":
    main()
