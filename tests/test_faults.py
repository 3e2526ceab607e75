"""Faults with real processes and real servers: cold parallel starts, a worker killed mid-request, slow clients,
the server killed with SIGKILL, a pool that cannot start, hostile files. Repetitions and timings are in
bench/hostile.py; here each fault is tried once, with small limits so that the whole file runs in about a minute."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import SAMPLE, free_port, wait_ready

sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
from hostile import corpus, tree  # noqa: E402  (the benchmark's corpus generator, shared with these tests)

SAMPLE_BYTES = SAMPLE.read_bytes()
BEAT_SELECT = Path(sys.executable).parent / "beat-select"


class Server:
    "`uvicorn beat_selection.api:app` in a child process with these settings; its log is kept for the report."
    def __init__(self, catalogue: Path, logs: Path, **settings: str):
        self.port, self.logs = free_port(), logs
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "BEAT_SELECTION_CATALOGUE": str(catalogue), "BEAT_SELECTION_WORKERS": "2",
               **{f"BEAT_SELECTION_{k.upper()}": str(v) for k, v in settings.items()}}
        with open(logs, "wb") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "uvicorn", "beat_selection.api:app", "--host", "127.0.0.1",
                                             "--port", str(self.port), "--no-access-log"], env=env, stdout=log,
                                            stderr=subprocess.STDOUT)

    def workers(self) -> list[int]:
        "The analysis workers (the spawned children that are not the resource tracker)."
        children = [p for p in tree(self.process.pid) if p != self.process.pid]
        return [p for p in children if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def server(small_catalogue, tmp_path):
    "Start servers with settings of the test's choosing; all are stopped afterwards."
    started: list[Server] = []

    def start(catalogue: Path | None = None, ready: bool = True, **settings) -> Server:
        s = Server(catalogue or small_catalogue, tmp_path / f"server-{len(started)}.log", **settings)
        started.append(s)
        if ready:
            wait_ready(s.url, 120, s.process)
        return s
    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def faulty(small_catalogue, tmp_path_factory):
    "A server with small limits, shared by the tests that abuse it (each leaves it whole)."
    s = Server(small_catalogue, tmp_path_factory.mktemp("faulty") / "server.log", analysis_cpu_seconds="0.5",
               max_uploads="4", max_uploads_per_client="2", min_upload_rate="1000", upload_rate_grace="3",
               upload_idle_timeout="10")
    try:
        wait_ready(s.url, 120, s.process)
        yield s
    finally:
        s.stop()


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# --- (a) cold processes at once, then one more -------------------------------------------------------------

def test_cold_processes_at_once_then_one_more(small_catalogue, tmp_path):
    """Three `beat-select analyze` and a server start together with nothing cached (no NUMBA_CACHE_DIR, a fresh
    HOME, empty XDG and project caches), then one more command: all exit 0, the server becomes ready."""
    home, cache = tmp_path / "home", tmp_path / "cache"
    home.mkdir(), cache.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(cache / "xdg"), BEAT_SELECTION_CACHE=str(cache / "beat_selection"))
    catalogue = tmp_path / "catalogue"
    shutil.copytree(small_catalogue, catalogue)
    analyze = [str(BEAT_SELECT), "analyze", str(SAMPLE)]
    commands = [subprocess.Popen(analyze, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(3)]
    port = free_port()
    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "beat_selection.api:app", "--host", "127.0.0.1",
                                   "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                                  env={**env, "BEAT_SELECTION_CATALOGUE": str(catalogue), "BEAT_SELECTION_WORKERS": "1"})
    try:
        outputs = [c.communicate(timeout=150)[0].decode(errors="replace") for c in commands]
        codes = [c.returncode for c in commands]
        try:
            wait_ready(f"http://127.0.0.1:{port}", 150, server)
            ready = "ready"
        except (RuntimeError, TimeoutError) as e:
            ready = f"{e}: {(tmp_path / 'server.log').read_text(errors='replace')[-1500:]}"
        one_more = subprocess.run(analyze, env=env, capture_output=True, text=True, timeout=150)
    finally:
        for c in commands:
            c.kill()
        server.terminate()
        server.wait(20)
    assert codes == [0, 0, 0], "\n---\n".join(f"exit {c}: {o[-800:]}" for c, o in zip(codes, outputs))
    assert ready == "ready", ready
    assert one_more.returncode == 0, one_more.stdout[-800:] + one_more.stderr[-800:]


# --- (b) a worker killed mid-request ---------------------------------------------------------------------

def long_clip() -> bytes:
    import io
    import numpy as np
    import soundfile as sf
    from hostile import music
    buffer = io.BytesIO()
    sf.write(buffer, music(120.0, 22_050, 1, seed=2), 22_050, format="WAV", subtype="PCM_16")  # 0.15 s of CPU here
    return buffer.getvalue()


def test_a_worker_killed_mid_request(faulty):
    """The request whose worker is killed is retried on another and answered; the others are not disturbed;
    the pool is whole again afterwards."""
    s = faulty
    clip = long_clip()
    with httpx.Client(base_url=s.url, timeout=60) as c:
        assert c.post("/analyze", files={"file": ("warm.wav", clip)}).status_code == 200
        before = s.workers()
        assert len(before) == 2
        ticks = {p: cpu_ticks(p) for p in before}
        answers: dict[str, httpx.Response] = {}
        victim = threading.Thread(target=lambda: answers.update(victim=c.post("/analyze", files={"file": ("v.wav", clip)})))
        victim.start()
        busy = None
        for _ in range(200):  # the worker that starts using CPU is the one analysing the request
            time.sleep(0.01)
            moved = [p for p in before if cpu_ticks(p) > ticks[p]]
            if len(moved) == 1:
                busy = moved[0]
                break
        assert busy is not None, "no worker picked up the request"
        os.kill(busy, signal.SIGKILL)
        others = [c.post("/recommend", files={"file": ("s.wav", SAMPLE_BYTES)}) for _ in range(3)]
        victim.join(60)
        assert answers["victim"].status_code == 200, answers["victim"].text
        assert [r.status_code for r in others] == [200, 200, 200]
        for _ in range(300):  # the replacement warms up in the background
            if len(s.workers()) == 2 and c.get("/ready").status_code == 200:
                break
            time.sleep(0.1)
        after = s.workers()
        assert len(after) == 2 and busy not in after
        assert c.post("/analyze", files={"file": ("s.wav", SAMPLE_BYTES)}).status_code == 200
    assert '"exitcode": -9' in s.logs.read_text()


def test_a_file_over_its_cpu_budget_ends_alone(faulty):
    "An analysis over its CPU budget (0.5 s here) ends its own worker (422 too_costly); a request beside it is answered."
    s = faulty
    import io
    import numpy as np
    import soundfile as sf
    rate, channels = 96_000, 8
    square = (np.arange(rate * 10) // (rate // 4) % 2 * 80 - 40).astype(np.int16)  # 2 Hz, ±40 steps: FLAC packs it tight
    buffer = io.BytesIO()  # 150 s of 8 channels at 96 kHz: 115 M samples (the limit is 120 M), 1.6 s of CPU here
    with sf.SoundFile(buffer, "w", rate, channels, format="FLAC", subtype="PCM_16") as f:
        for _ in range(15):
            f.write(np.repeat(square[:, None], channels, axis=1))
    heavy = buffer.getvalue()
    with httpx.Client(base_url=s.url, timeout=120) as c:
        answers = {}
        costly = threading.Thread(target=lambda: answers.update(costly=c.post("/analyze", files={"file": ("h.flac", heavy)})))
        costly.start()
        time.sleep(0.5)
        beside = c.post("/recommend", files={"file": ("s.wav", SAMPLE_BYTES)})
        costly.join(120)
    assert beside.status_code == 200, beside.text
    assert answers["costly"].status_code == 422 and answers["costly"].json()["error"]["code"] == "too_costly"


# --- (c) slow clients --------------------------------------------------------------------------------------

def trickle(url: str, address: str, result: list, seconds: float = 20) -> None:
    "Upload at 1 byte/s from `address` until the server answers; its status line and the seconds it took."
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=seconds, source_address=(address, 0)) as s:
        s.sendall(b"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                  b"Content-Length: 100000\r\n\r\n"
                  b'--b\r\nContent-Disposition: form-data; name="file"; filename="slow.wav"\r\n\r\n')
        s.settimeout(1.0)
        while time.monotonic() - started < seconds:
            try:
                s.sendall(b"-")
                answer = s.recv(4096)
            except (TimeoutError, socket.timeout):
                continue
            except OSError as e:
                result.append((type(e).__name__, b"", time.monotonic() - started))
                return
            took = time.monotonic() - started
            try:
                while chunk := s.recv(4096):  # the server closes the connection after its answer
                    answer += chunk
            except OSError:
                pass
            result.append((answer.split(b"\r\n", 1)[0].decode(), answer, took))
            return


def test_slow_clients_do_not_block_a_normal_recommend(faulty):
    """Slow uploaders (1 byte/s) fill a server taking 4 uploads at once and 2 per client: the third from one
    address is refused at once (429); a normal upload takes the place of the slowest (408 for it) and is
    served; the others are cut off by the minimum rate (1,000 bytes/s after 3 s)."""
    s = faulty
    results: list = []
    addresses = ["127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
    slow = [threading.Thread(target=trickle, args=(s.url, address, results)) for address in addresses]
    for t in slow:
        t.start()
    time.sleep(1.3)  # the four places are taken, for more than a second
    started = time.monotonic()
    with httpx.Client(base_url=s.url, timeout=30) as c:
        normal = c.post("/recommend", files={"file": ("s.wav", SAMPLE_BYTES)})
    seconds = time.monotonic() - started
    for t in slow:
        t.join(30)
    assert normal.status_code == 200 and seconds < 5, (normal.status_code, normal.text[:200], seconds)
    statuses = sorted(line for line, _, _ in results)
    assert statuses == ["HTTP/1.1 408 Request Timeout"] * 4 + ["HTTP/1.1 429 Too Many Requests"], results
    evicted = [(answer, took) for line, answer, took in results if b"was the slowest" in answer]
    assert len(evicted) == 1 and 1.2 < evicted[0][1] < 2.5, results
    for line, answer, took in results:
        if "429" in line:
            assert b"retry-after" in answer.lower() and b'"too_many_uploads"' in answer and took < 1, (answer, took)
        elif b"was the slowest" not in answer:
            assert b"slower than 1,000 bytes/s" in answer and 2.5 < took < 6, (answer, took)
    again: list = []  # a client cut off as too slow waits before its next upload
    trickle(s.url, "127.0.0.3", again, seconds=3)
    assert again and again[0][0] == "HTTP/1.1 429 Too Many Requests" and b'"too_slow_recently"' in again[0][1], again


# --- (d) the server killed with SIGKILL --------------------------------------------------------------------

def test_sigkill_leaves_no_orphans_and_a_sound_catalogue(server, small_catalogue, tmp_path):
    "kill -9 of a server adding a beat: nothing of it left after 5 s, the catalogue intact, every beat served after a restart."
    catalogue = tmp_path / "catalogue"
    shutil.copytree(small_catalogue, catalogue)
    s = server(catalogue, api_key="k", workers="1")
    with httpx.Client(base_url=s.url, timeout=60) as c:
        assert c.post("/beats", files={"file": ("mine.wav", SAMPLE_BYTES)}, headers={"X-API-Key": "k"}).status_code == 201
        family = tree(s.process.pid)
        assert len(family) >= 2  # the server, its worker (and multiprocessing's resource tracker)
        adding = threading.Thread(target=lambda: _ignore_errors(lambda: c.post(
            "/beats", files={"file": ("second.wav", long_clip())}, headers={"X-API-Key": "k"})))
        adding.start()
        time.sleep(0.3)
        os.kill(s.process.pid, signal.SIGKILL)
        s.process.wait(5)
        adding.join(10)
    deadline = time.monotonic() + 5
    while any(alive(p) for p in family) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in family if alive(p)], "processes of the killed server still running"
    with sqlite3.connect(catalogue / "catalogue.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    again = server(catalogue, workers="1")
    with httpx.Client(base_url=again.url, timeout=60) as c:
        beats = c.get("/beats", params={"limit": 100}).json()["items"]
        assert len(beats) >= 15
        assert all(c.get(b["audio_url"]).status_code == 200 for b in beats)


def _ignore_errors(call) -> None:
    try:
        call()
    except httpx.HTTPError:
        pass


# --- health that tells the truth ----------------------------------------------------------------------------

def test_a_pool_that_cannot_start_fails_health(server):
    "Workers that can never warm up in time: /ready says why, and /health fails within the configured delay."
    s = server(ready=False, worker_start_timeout="0.2", unhealthy_after="2")
    with httpx.Client(base_url=s.url, timeout=5) as c:
        wait_ready_or(lambda: c.get("/health").status_code == 200, 30)  # it answers, and says it is alive at first
        assert wait_ready_or(lambda: c.get("/health").status_code == 503, 20), "/health still 200"
        health, ready = c.get("/health").json()["error"], c.get("/ready").json()["error"]
    assert health["code"] == "unhealthy" and "start-up failed" in health["message"]
    assert ready["code"] == "not_ready" and "start-up failed (RuntimeError)" in ready["message"]
    assert "next try in" in ready["message"]


def wait_ready_or(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


# --- (e) hostile files -------------------------------------------------------------------------------------

HOSTILE = corpus(bombs=False)
SOME_OF_EACH = [name for name in HOSTILE if not name.startswith(("truncated", "damaged"))] + \
    [name for name in HOSTILE if name.startswith(("truncated mp3", "damaged mp3", "truncated flac", "damaged ogg"))]


def test_hostile_files_get_no_5xx_and_the_same_answer_twice(api_server):
    def answer(c: httpx.Client, data: bytes) -> tuple[int, str]:
        r = c.post("/analyze", files={"file": ("upload.bin", data)})
        return r.status_code, r.json().get("error", {}).get("code", "") if r.status_code >= 400 else ""

    with httpx.Client(base_url=api_server, timeout=60) as c:
        answers = {name: (answer(c, HOSTILE[name]), answer(c, HOSTILE[name])) for name in SOME_OF_EACH}
    server_errors = {name: a for name, a in answers.items() if a[0][0] >= 500 or a[1][0] >= 500}
    differing = {name: a for name, a in answers.items() if a[0] != a[1]}
    assert not server_errors and not differing, (server_errors, differing)


# --- auditions and mixes: CPU work in the pool, never on the event loop --------------------------------------

def test_a_flood_of_auditions_and_mixes_gets_answers_or_503_and_health_stays_up(api_server):
    """Each uncached audition or mix is CPU work in the pool: a flood gets 200 or 503 busy, never another 5xx, and
    the server keeps answering everything else meanwhile."""
    import random
    from concurrent.futures import ThreadPoolExecutor
    offset = random.Random().uniform(0, 0.3)  # tempi no earlier run has cached
    with httpx.Client(base_url=api_server, timeout=120) as c:
        beat = c.get("/beats", params={"style": "house", "limit": 1}).json()["items"][0]

        def audition(i: int) -> int:
            return c.get(f"/beats/{beat['id']}/audition", params={"bpm": round(110 + i + offset, 2), "bars": 4}).status_code

        def mixing(i: int) -> int:
            return c.post("/mix", files={"file": ("s.wav", SAMPLE_BYTES)},
                          data={"beat_id": beat["id"], "bpm": str(round(100 + i + offset, 2)), "bars": "2"}).status_code

        with ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(audition, i) for i in range(8)] + [pool.submit(mixing, i) for i in range(4)]
            beside = [c.get("/health").status_code, c.get(f"/beats/{beat['id']}").status_code, c.get("/").status_code]
            statuses = [f.result() for f in futures]
    assert set(statuses) <= {200, 503} and 200 in statuses, statuses
    assert beside == [200, 200, 200]
