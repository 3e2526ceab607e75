"""Latency, throughput, memory and start-up of the API, printed as a markdown report for bench/RESULTS.md.

    python bench/api.py [--seconds 30] [--clients 4] [--duration 40] [--uploads 50] [--upload-mb 20]

Starts `uvicorn beat_selection.api:app` (the default catalogue, 2 analysis workers) in a child process and
drives it from this one:

1. **Ready**: seconds from starting the server process to the first 200 from `/ready` (target <= 10 s).
2. **Latency and throughput**: `--clients` threads POST the same `--seconds` clip (a generated beat, 44.1 kHz
   stereo, as a 16-bit WAV and as an MP3) to `/recommend` back to back for `--duration` seconds. p50/p95/p99
   latency (target p95 <= 250 ms with 4 clients) and requests per second (target >= 10/s on 2 cores). Also
   with 1 and 8 clients. The body is encoded once, so that the load generator, which shares the 2 cores,
   spends little CPU.
3. **Memory under a flood**: `--uploads` concurrent uploads of `--upload-mb` MB each; the peak resident
   memory of the server and its workers (sampled from /proc every 50 ms), and the answers (503s are fine).

Baseline, in this process: plain librosa (`beat_track` + `chroma_cqt`) on the same clip, CPU ms.
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

from beat_selection.beats import BeatSpec, generate_beat
from beat_selection.catalogue import default_catalogue


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CLIP_FORMATS = {"wav": ("WAV", "PCM_16"), "mp3": ("MP3", "MPEG_LAYER_III")}


def clip_file(seconds: float, format: str = "wav", seed: int = 7) -> bytes:
    "A generated beat as a 44.1 kHz stereo file (16-bit WAV, or MP3), as a user would upload it."
    import soxr
    beat = generate_beat(BeatSpec("house", seconds=seconds), seed)
    audio = soxr.resample(beat.audio, beat.sr, 44_100)
    buffer = io.BytesIO()
    container, subtype = CLIP_FORMATS[format]
    sf.write(buffer, np.stack([audio, audio], axis=1), 44_100, format=container, subtype=subtype)
    return buffer.getvalue()


def big_wav(megabytes: float) -> bytes:
    "A WAV of noise-like music of about this size (within the server's default limits)."
    frames = int(megabytes * 1e6 / 4)
    rng = np.random.default_rng(0)
    t = np.arange(frames) / 44_100
    tone = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(frames)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([tone, tone], axis=1).astype(np.float32), 44_100, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def tree_rss_mb(pid: int) -> float:
    "Resident memory of a process and all its descendants, from /proc."
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(next(l for l in status.splitlines() if l.startswith("VmRSS:")).split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total / 1024


def start_server(port: int, env: dict) -> tuple[subprocess.Popen, float]:
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "beat_selection.api:app", "--host", "127.0.0.1",
                                "--port", str(port), "--no-access-log", "--log-level", "warning"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() - started < 120:
        try:
            if httpx.get(url + "/ready", timeout=1).status_code == 200:
                return process, time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise TimeoutError("the server did not become ready in 120 s")


def multipart(clip: bytes, boundary: str = "beat-selection-bench") -> tuple[bytes, dict]:
    "The body and headers of a one-file upload, encoded once so that the load generator spends little CPU."
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="clip.wav"\r\n'
            f"Content-Type: audio/wav\r\n\r\n").encode()
    return head + clip + f"\r\n--{boundary}--\r\n".encode(), {"content-type": f"multipart/form-data; boundary={boundary}"}


def load(url: str, clip: bytes, clients: int, duration: float, format: str = "wav") -> dict:
    "Closed-loop load: `clients` threads posting back to back."
    stop = time.monotonic() + duration
    body, headers = multipart(clip)
    results: list[list[tuple[int, float]]] = [[] for _ in range(clients)]  # one list per thread: no shared counter

    def client(mine: list) -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            while time.monotonic() < stop:
                t = time.perf_counter()
                r = c.post("/recommend", content=body, headers=headers)
                mine.append((r.status_code, time.perf_counter() - t))

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(mine,)) for mine in results]
    for t in threads: t.start()
    for t in threads: t.join()
    elapsed = time.monotonic() - started
    answers = [a for mine in results for a in mine]
    statuses = Counter(status for status, _ in answers)
    ms = np.array([seconds for status, seconds in answers if status == 200]) * 1000  # latency of real answers only
    return dict(format=format, size=len(clip), clients=clients, n=len(answers), rps=statuses[200] / elapsed, p50=np.percentile(ms, 50),
                p95=np.percentile(ms, 95), p99=np.percentile(ms, 99), statuses=dict(statuses))


def flood(url: str, pid: int, body: bytes, uploads: int) -> dict:
    "`uploads` concurrent uploads of `body`; peak memory of the server tree and the answers."
    peak, done = tree_rss_mb(pid), threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_mb(pid))
            time.sleep(0.05)

    content, headers = multipart(body)

    def post(_):
        try:
            with httpx.Client(base_url=url, timeout=120) as c:
                return c.post("/recommend", content=content, headers=headers).status_code
        except httpx.HTTPError as e:
            return type(e).__name__

    before = tree_rss_mb(pid)
    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    with ThreadPoolExecutor(uploads) as pool:
        answers = Counter(pool.map(post, range(uploads)))
    done.set()
    sampler.join()
    alive = httpx.get(url + "/ready", timeout=5).status_code
    return dict(before=before, peak=peak, answers=dict(answers), seconds=time.monotonic() - started, ready_after=alive)


def librosa_cpu_ms(clip: bytes, repeats: int = 3) -> float:
    "The plain-librosa baseline on the same clip, in this process: `beat_track` + `chroma_cqt`, CPU ms."
    from beat_selection.core import import_librosa
    librosa = import_librosa()  # compiled once, by one process, into this user's cache
    y, sr = sf.read(io.BytesIO(clip), dtype="float32")
    y = librosa.resample(y.mean(axis=1), orig_sr=sr, target_sr=22_050)
    times = []
    for _ in range(repeats):
        t = time.process_time()
        librosa.beat.beat_track(y=y, sr=22_050)
        librosa.feature.chroma_cqt(y=y, sr=22_050)
        times.append(time.process_time() - t)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--upload-mb", type=float, default=20.0)
    args = parser.parse_args()

    catalogue = default_catalogue()  # built before the clock starts: the image and `make serve` build it first
    # every client of this benchmark is 127.0.0.1: the per-client upload limit would turn the load away
    env = {**os.environ, "BEAT_SELECTION_CATALOGUE": str(catalogue.root), "BEAT_SELECTION_WORKERS": "2",
           "BEAT_SELECTION_QUEUE": "8", "BEAT_SELECTION_MAX_UPLOADS_PER_CLIENT": "64"}
    clips, big = {f: clip_file(args.seconds, f) for f in CLIP_FORMATS}, big_wav(args.upload_mb)
    port = free_port()
    process, ready = start_server(port, env)
    url = f"http://127.0.0.1:{port}"
    try:
        load(url, clips["wav"], 2, 5)  # warm the connection pools and caches
        runs = [load(url, clips["wav"], n, args.duration) for n in sorted({1, args.clients, 8})]
        runs += [load(url, clips["mp3"], n, args.duration, "mp3") for n in sorted({1, args.clients})]
        flooded = flood(url, process.pid, big, args.uploads)
    finally:
        process.terminate()
        process.wait(30)
    baseline = librosa_cpu_ms(clips["wav"])

    command = "python bench/api.py" + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    print(f"## API (`{command}`, {date.today()}, {platform.machine()}, {os.cpu_count()} cores)\n")
    print(f"Server: uvicorn, 2 analysis workers, queue 8, default catalogue of {len(catalogue)} beats. "
          f"Clip: a {args.seconds:g} s generated beat, 44.1 kHz stereo. Client and server share the 2 cores.\n")
    print(f"- ready {ready:.1f} s after the server process started (target ≤ 10 s)")
    print("\n| upload | clients | requests | req/s (200s) | p50 ms | p95 ms | p99 ms | answers |\n|---|---|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['format'].upper()} {r['size'] / 1e6:.1f} MB | {r['clients']} | {r['n']} | {r['rps']:.1f} | {r['p50']:.0f} | "
              f"{r['p95']:.0f} | {r['p99']:.0f} | {r['statuses']} |")
    print(f"\n- {args.uploads} concurrent uploads of {len(big) / 1e6:.0f} MB: answers {flooded['answers']} in "
          f"{flooded['seconds']:.1f} s; server + workers resident memory {flooded['before']:.0f} MB before, "
          f"peak {flooded['peak']:.0f} MB; /ready afterwards {flooded['ready_after']}")
    print(f"- baseline, plain librosa `beat_track` + `chroma_cqt` on the same clip in this process: {baseline:.0f} ms CPU")


if __name__ == "__main__":
    main()
