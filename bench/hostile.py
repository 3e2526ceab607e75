"""Hostile uploads against a real server: no 5xx, the same answer for the same bytes, bounded memory, and
ordinary requests still served while slow clients and the largest accepted files are in flight.

    python bench/hostile.py [--rounds 20] [--flood 50] [--flood-mb 20] [--duration 40] [--slow 32] [--big 4]

Starts `uvicorn beat_selection.api:app` (2 analysis workers, default limits, a catalogue of 2 generated beats
per style) on 127.0.0.1 and drives it from this process. Only loopback traffic; every loop is bounded.

1. **Hostile corpus**: `corpus()` makes ~100 files (truncated files of each format, lying headers, extreme
   rates and channel counts, non-finite and huge finite floats, polyglots, zip bombs of silence, damaged
   streams, empty, text, images) and posts each `--rounds` times to `/recommend` and `/analyze` (4 client
   threads). Printed: answers by status code (0 x 5xx expected) and the files whose answers (status and
   error code) differed between tries (none expected).
2. **Memory**: `--flood` concurrent uploads of `--flood-mb` MB, from as many loopback addresses (so that
   the per-client limit does not turn them away); peak resident memory of the server and its workers
   (target <= 1.5 GB).
3. **Latency under abuse**: for `--duration` s, `--slow` clients upload at 1 byte/s (each from its own
   loopback address, reconnecting when cut off) and `--big` clients post the largest accepted upload back
   to back, while one client posts an ordinary 30 s clip to `/recommend`: its p50/p95 (target p95 <= 2 s,
   no errors).

The corpus is also what tests/test_faults.py posts (a few of each kind).
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import select
import shlex
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

from api import librosa_cpu_ms  # bench/api.py: the same plain-librosa baseline, on the same clip

SR = 44_100


def encode(data: np.ndarray, sr: int, format: str, subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, data, sr, format=format, subtype=subtype)
    return buffer.getvalue()


def music(seconds: float, sr: int = SR, channels: int = 2, seed: int = 0) -> np.ndarray:
    "A chord with a little noise and a pulse: something the analysis can measure."
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    pulse = (np.sin(2 * np.pi * 2 * t) > 0.95).astype(np.float32)
    mono = 0.2 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.6, 329.6)) + 0.3 * pulse * rng.standard_normal(len(t))
    return np.repeat(mono[:, None], channels, axis=1).astype(np.float32) * 0.5


def ffmpeg_encode(wav: bytes, suffix: str, *codec: str) -> bytes | None:
    "An M4A/WebM made by ffmpeg from `wav`, or None without ffmpeg."
    exe = shutil.which("ffmpeg")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        src, out = Path(d) / "in.wav", Path(d) / f"out{suffix}"
        src.write_bytes(wav)
        subprocess.run([exe, "-v", "error", "-y", "-i", str(src), *codec, str(out)], check=True, timeout=60)
        return out.read_bytes()


def flac_claiming(frames: int, sr: int, channels: int) -> bytes:
    "0.1 s of FLAC silence whose STREAMINFO claims `frames`."
    data = bytearray(encode(np.zeros((sr // 10, channels), np.int16), sr, "FLAC", "PCM_16"))
    fields = int.from_bytes(data[18:26], "big")  # rate (20 bits), channels (3), bits (5), total samples (36)
    data[18:26] = ((fields & ~((1 << 36) - 1)) | frames).to_bytes(8, "big")
    return bytes(data)


def wav_with_header(sr: int, channels: int, bits: int = 16, data_size: int | None = None, fmt_tag: int = 1,
                    payload: bytes = b"\0" * 4000) -> bytes:
    "A hand-written RIFF/WAVE header that may say anything, followed by `payload`."
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, sr & 0xFFFFFFFF, (sr * block) & 0xFFFFFFFF, block & 0xFFFF, bits)
    size = len(payload) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size & 0xFFFFFFFF) + payload
    return b"RIFF" + struct.pack("<I", len(body) & 0xFFFFFFFF) + body


def png(width: int = 64, height: int = 64) -> bytes:
    raw = b"".join(b"\0" + b"\x80" * (width * 3) for _ in range(height))  # filter byte, then a grey row
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def damaged(data: bytes, seed: int, flips: int = 30) -> bytes:
    rng = np.random.default_rng(seed)
    out = bytearray(data)
    for at in rng.integers(0, len(out), flips):
        out[at] = rng.integers(0, 256)
    return bytes(out)


def corpus(seed: int = 0, bombs: bool = True) -> dict[str, bytes]:
    "Named hostile uploads; the same bytes for the same seed."
    rng = np.random.default_rng(seed)
    clip = music(4.0)
    files: dict[str, bytes] = {}
    good = {"wav": encode(clip, SR, "WAV", "PCM_16"), "flac": encode(clip, SR, "FLAC"),
            "ogg": encode(clip, SR, "OGG", "VORBIS"), "mp3": encode(clip, SR, "MP3", "MPEG_LAYER_III"),
            "aiff": encode(clip, SR, "AIFF", "PCM_16"), "opus": encode(music(4.0, 48_000), 48_000, "OGG", "OPUS")}
    m4a = ffmpeg_encode(good["wav"], ".m4a", "-c:a", "aac", "-b:a", "96k")
    webm = ffmpeg_encode(good["wav"], ".webm", "-c:a", "libopus")
    good.update({k: v for k, v in {"m4a": m4a, "webm": webm}.items() if v})
    # truncated files of each format, at several cuts, and damaged streams
    for fmt, data in good.items():
        for cut in (4, 12, 44, 100, 1_000, 1_500, 5_000, len(data) // 2):
            files[f"truncated {fmt} at {cut}"] = data[:cut]
        for k in range(3):
            files[f"damaged {fmt} #{k}"] = damaged(data, seed + k)
    # lying headers
    files["wav claiming 4 GB of data"] = wav_with_header(SR, 2, data_size=0xFFFFFFF0)
    files["wav claiming 0 Hz"] = wav_with_header(0, 2)
    files["wav claiming 1 Hz"] = wav_with_header(1, 2)
    files["wav claiming 4 GHz"] = wav_with_header(4_000_000_000, 2)
    files["wav claiming 0 channels"] = wav_with_header(SR, 0)
    files["wav claiming 65535 channels"] = wav_with_header(SR, 65_535)
    files["wav claiming 0 bits"] = wav_with_header(SR, 2, bits=0)
    files["wav claiming 7 bits"] = wav_with_header(SR, 2, bits=7)
    files["wav with an unknown codec"] = wav_with_header(SR, 2, fmt_tag=0x7777)
    files["flac claiming 590 s x 8 ch at 384 kHz"] = flac_claiming(590 * 384_000, 384_000, 8)
    files["flac claiming 2^36 frames"] = flac_claiming((1 << 36) - 1, SR, 2)
    files["mp3 header, 1500 bytes"] = good["mp3"][:1_500]
    # extreme rates and channel counts (real files)
    files["8 kHz mono"] = encode(music(3.0, 8_000, 1), 8_000, "WAV", "PCM_16")
    files["7999 Hz"] = encode(music(3.0, 7_999, 1), 7_999, "WAV", "PCM_16")
    files["384 kHz stereo"] = encode(music(3.0, 384_000), 384_000, "WAV", "PCM_16")
    files["32 channels"] = encode(music(3.0, 8_000, 32), 8_000, "WAV", "PCM_16")
    files["33 channels"] = encode(music(3.0, 8_000, 33), 8_000, "WAV", "PCM_16")
    files["8-bit unsigned"] = encode(clip, SR, "WAV", "PCM_U8")
    files["u-law"] = encode(clip, SR, "WAV", "ULAW")
    files["IMA ADPCM"] = encode(clip, SR, "WAV", "IMA_ADPCM")
    files["double wav"] = encode(clip.astype(np.float64), SR, "WAV", "DOUBLE")
    # non-finite and huge finite floats
    for name, value in {"NaN": np.nan, "+inf": np.inf, "-inf": -np.inf, "1e38": 1e38, "3.4e38": 3.4e38,
                        "1e10": 1e10, "1e4": 1e4}.items():
        bad = clip.copy()
        bad[int(rng.integers(0, len(bad)))] = value
        files[f"float wav with {name}"] = encode(bad, SR, "WAV", "FLOAT")
    everywhere = np.full_like(clip, 1e30)
    files["float wav of 1e30 everywhere"] = encode(everywhere, SR, "WAV", "FLOAT")
    files["double wav with 1e300"] = encode(np.where(np.arange(len(clip))[:, None] == 99, 1e300, clip.astype(np.float64)),
                                           SR, "WAV", "DOUBLE")
    # polyglots: one format's magic word, another's body
    files["RIFF then PNG"] = b"RIFF\x24\x00\x00\x00WAVEfmt " + png()
    files["fLaC then text"] = b"fLaC" + b"hello world " * 200
    files["OggS then random"] = b"OggS" + rng.bytes(20_000)
    files["ID3 then PDF"] = b"ID3\x04\x00\x00\x00\x00\x00\x00%PDF-1.7\n" + rng.bytes(5_000)
    files["mp3 sync then random"] = b"\xff\xfb\x90\x64" + rng.bytes(50_000)
    files["wav inside a zip"] = zipped("a.wav", good["wav"])
    files["PNG then wav"] = png() + good["wav"]
    files["wav then PNG"] = good["wav"] + png()
    files["ftyp then random"] = b"\0\0\0\x20ftypM4A " + rng.bytes(10_000)
    files["webm magic then random"] = b"\x1a\x45\xdf\xa3" + rng.bytes(10_000)
    # zip bombs of silence: small files that decode to a lot
    if bombs:
        files["flac bomb: 590 s of stereo silence"] = silence_bomb("FLAC", 590, SR, 2)
        files["flac bomb: 30 min of silence"] = silence_bomb("FLAC", 1_800, 8_000, 1)
        files["ogg bomb: 590 s of silence"] = silence_bomb("OGG", 590, 8_000, 1, "VORBIS")
        files["zip of 100 MB of zeros"] = zipped("zeros.wav", b"\0" * 100_000_000)
    # not audio at all
    files["empty"] = b""
    files["one byte"] = b"\0"
    files["text"] = b"this is not audio, just words\n" * 100
    files["json"] = b'{"file": "song.wav", "tempo": 120}'
    files["html"] = b"<!doctype html><title>x</title><script>alert(1)</script>"
    files["png"] = png()
    files["jpeg"] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + rng.bytes(5_000)
    files["gif"] = b"GIF89a" + rng.bytes(2_000)
    files["pdf"] = b"%PDF-1.7\n" + rng.bytes(5_000)
    files["random 100 kB"] = rng.bytes(100_000)
    files["zeros 1 MB"] = b"\0" * 1_000_000
    files["silence"] = encode(np.zeros((SR * 3, 2), np.float32), SR, "WAV", "PCM_16")
    files["too short"] = encode(music(1.0), SR, "WAV", "PCM_16")
    return files


def zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buffer.getvalue()


def silence_bomb(format: str, seconds: int, sr: int, channels: int, subtype: str | None = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    block = np.zeros((sr * 10, channels), np.float32)
    with sf.SoundFile(buffer, "w", sr, channels, format=format, subtype=subtype) as f:
        for _ in range(seconds // 10):
            f.write(block)
    return buffer.getvalue()


# --- the server and its clients ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[int]:
    "A process and all its descendants, from /proc."
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def tree_rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += int(next(l for l in status.splitlines() if l.startswith("VmRSS:")).split()[1])
        except (OSError, StopIteration):
            continue
    return total / 1024


def start_server(env: dict, seconds: float = 180) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "beat_selection.api:app", "--host", "127.0.0.1",
                                "--port", str(port), "--no-access-log", "--log-level", "warning"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/ready", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise TimeoutError(f"the server did not become ready in {seconds:g} s")


def client_from(address: str, timeout: float = 120) -> httpx.Client:
    "An HTTP client whose connections come from this loopback `address` (127.0.0.0/8 all reaches the server)."
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=timeout)


def answer_of(response: httpx.Response) -> str:
    "Status and error code: what must be the same for the same bytes."
    try:
        code = response.json().get("error", {}).get("code", "") if response.status_code >= 400 else ""
    except ValueError:
        code = "not json"
    return f"{response.status_code} {code}".strip()


def hostile_run(url: str, files: dict[str, bytes], rounds: int, threads: int = 4) -> tuple[Counter, dict[str, set[str]]]:
    "Every file `rounds` times to /recommend and /analyze, in a shuffled order; answers by status, and per file."
    jobs = [(name, endpoint) for name in files for endpoint in ("/recommend", "/analyze")] * rounds
    np.random.default_rng(1).shuffle(jobs)
    answers: dict[str, set[str]] = defaultdict(set)
    statuses: Counter = Counter()
    lock = threading.Lock()

    def work(part: list[tuple[str, str]], address: str) -> None:
        with client_from(address) as c:
            for name, endpoint in part:
                r = c.post(url + endpoint, files={"file": ("upload.bin", files[name])})
                with lock:
                    statuses[r.status_code] += 1
                    answers[f"{name} -> {endpoint}"].add(answer_of(r))

    workers = [threading.Thread(target=work, args=(jobs[i::threads], f"127.0.0.{10 + i}")) for i in range(threads)]
    for w in workers: w.start()
    for w in workers: w.join()
    return statuses, answers


def flood(url: str, pid: int, body: bytes, uploads: int) -> dict:
    "`uploads` concurrent uploads of `body`, each from its own loopback address; peak memory of the server tree."
    peak, done = tree_rss_mb(pid), threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_mb(pid))
            time.sleep(0.05)

    def post(i: int):
        try:
            with client_from(f"127.0.1.{1 + i}") as c:
                return c.post(url + "/recommend", files={"file": ("big.wav", body)}).status_code
        except httpx.HTTPError as e:
            return type(e).__name__

    before = tree_rss_mb(pid)
    sampler = threading.Thread(target=sample)
    sampler.start()
    with ThreadPoolExecutor(uploads) as pool:
        answers = Counter(pool.map(post, range(uploads)))
    done.set()
    sampler.join()
    return dict(before=before, peak=peak, answers=dict(answers))


def slow_client(url: str, address: str, stop: float, cut: list) -> None:
    "Upload at 1 byte/s until `stop`, reconnecting whenever the server cuts the upload off."
    host, port = url.removeprefix("http://").split(":")
    head = (b"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 1000000\r\n\r\n"
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="slow.wav"\r\n\r\n')
    while time.monotonic() < stop:
        try:
            with socket.create_connection((host, int(port)), timeout=5, source_address=(address, 0)) as s:
                s.sendall(head)
                while time.monotonic() < stop:
                    s.sendall(b"-")
                    if select.select([s], [], [], 1.0)[0]:  # the server answered (408, 429...): note it, reconnect
                        cut.append(s.recv(200).split(b"\r\n", 1)[0].decode(errors="replace"))
                        break
        except OSError:
            time.sleep(0.2)


def abuse_latency(url: str, clip: bytes, big: bytes, duration: float, slow: int, heavy: int) -> dict:
    "p50/p95 of an ordinary /recommend while `slow` slow uploaders and `heavy` largest-file posters run."
    stop = time.monotonic() + duration
    cut: list[str] = []
    big_answers: Counter = Counter()
    threads = [threading.Thread(target=slow_client, args=(url, f"127.0.2.{1 + i}", stop, cut)) for i in range(slow)]

    def post_big(i: int) -> None:
        with client_from(f"127.0.3.{1 + i}") as c:
            while time.monotonic() < stop:
                big_answers[answer_of(c.post(url + "/recommend", files={"file": ("big.wav", big)}))] += 1

    threads += [threading.Thread(target=post_big, args=(i,)) for i in range(heavy)]
    for t in threads: t.start()
    time.sleep(2)  # let them take their places
    seconds, statuses = [], Counter()
    with client_from("127.0.0.2") as c:
        while time.monotonic() < stop:
            t = time.perf_counter()
            r = c.post(url + "/recommend", files={"file": ("clip.wav", clip)})
            seconds.append(time.perf_counter() - t)
            statuses[answer_of(r)] += 1
    for t in threads: t.join()
    ms = np.array(seconds) * 1000
    return dict(n=len(ms), p50=np.percentile(ms, 50), p95=np.percentile(ms, 95), max=ms.max(), statuses=dict(statuses),
                big=dict(big_answers), slow_cut=Counter(cut))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="posts of each file to each endpoint")
    parser.add_argument("--flood", type=int, default=50)
    parser.add_argument("--flood-mb", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--slow", type=int, default=32)
    parser.add_argument("--big", type=int, default=4)
    args = parser.parse_args()

    from beat_selection.api import Settings
    from beat_selection.catalogue import default_catalogue
    workdir = tempfile.TemporaryDirectory()
    catalogue = Path(workdir.name) / "catalogue"
    default_catalogue(per_style=2, root=catalogue, workers=2, progress=False).close()
    env = {**os.environ, "BEAT_SELECTION_CATALOGUE": str(catalogue), "BEAT_SELECTION_WORKERS": "2",
           "BEAT_SELECTION_LOG_LEVEL": "warning", "TMPDIR": workdir.name}
    settings = Settings()
    files = corpus()
    clip = encode(music(30.0, seed=3), SR, "WAV", "PCM_16")
    largest = settings.max_upload_bytes - 100_000  # the largest upload accepted, as a 16-bit stereo WAV
    big = encode(music(largest / 4 / SR, seed=4)[: (largest - 44) // 4], SR, "WAV", "PCM_16")
    flood_body = encode(music(args.flood_mb * 1e6 / 4 / SR, seed=5), SR, "WAV", "PCM_16")

    process, url = start_server(env)
    try:
        started = time.monotonic()
        statuses, answers = hostile_run(url, files, args.rounds)
        hostile_seconds = time.monotonic() - started
        differing = {name: sorted(seen) for name, seen in answers.items() if len(seen) > 1}
        flooded = flood(url, process.pid, flood_body, args.flood)
        abused = abuse_latency(url, clip, big, args.duration, args.slow, args.big)
        ready_after = httpx.get(url + "/ready", timeout=5).status_code
    finally:
        process.terminate()
        process.wait(30)
        workdir.cleanup()
    baseline = librosa_cpu_ms(clip)

    command = "python bench/hostile.py" + (" " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "")
    print(f"## Hostile uploads (`{command}`, {date.today()}, {platform.machine()}, {os.cpu_count()} cores)\n")
    print(f"Server: uvicorn, 2 analysis workers, default limits (upload {settings.max_upload_bytes:,} bytes, "
          f"{settings.max_decoded_samples:,} decoded samples, {settings.analysis_cpu_seconds:g} s CPU per analysis, "
          f"{settings.max_uploads_per_client} uploads per client, {settings.min_upload_rate:,} bytes/s after "
          f"{settings.upload_rate_grace:g} s). Client and server share the machine.\n")
    total = sum(statuses.values())
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    print(f"- corpus: {len(files)} files, each posted {args.rounds} times to /recommend and /analyze: {total} requests "
          f"in {hostile_seconds:.0f} s")
    print(f"- answers by status: {dict(sorted(statuses.items()))}; 5xx: {server_errors}")
    print(f"- files whose answers differed between tries: {len(differing)}")
    for name, seen in sorted(differing.items()):
        print(f"    - {name}: {seen}")
    print(f"- {args.flood} concurrent uploads of {len(flood_body) / 1e6:.0f} MB from {args.flood} addresses: answers "
          f"{flooded['answers']}; server + workers resident memory {flooded['before']:.0f} MB before, peak "
          f"{flooded['peak']:.0f} MB (target <= 1536 MB)")
    print(f"- ordinary /recommend of a 30 s clip for {args.duration:g} s while {args.slow} clients upload at 1 byte/s "
          f"and {args.big} post {len(big) / 1e6:.1f} MB files: {abused['n']} requests, p50 {abused['p50']:.0f} ms, "
          f"p95 {abused['p95']:.0f} ms, max {abused['max']:.0f} ms, answers {abused['statuses']} (target p95 <= 2000 ms, "
          f"no errors); the big files got {abused['big']}; slow uploads ended with {dict(abused['slow_cut'])}")
    print(f"- /ready afterwards: {ready_after}")
    print(f"- baseline, plain librosa `beat_track` + `chroma_cqt` on the same 30 s clip in this process: {baseline:.0f} ms CPU")


if __name__ == "__main__":
    main()
