"""The catalogue: storage round trips, filters, and safety under concurrent readers, a writer and rival builders,
on both backends: SQLite in a folder and a PostgreSQL server (started here on a free port, as an unprivileged user)."""
from __future__ import annotations

import contextlib
import io
import itertools
import json
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from beat_selection.audio import DEFAULT_SR, AudioError, EmptyAudioError
from beat_selection.beats import MIN_GROOVE_DISTANCE, STYLE_IDS, catalogue_grooves, groove_distance
from beat_selection.catalogue import (EMBEDDING_DIM, SCHEMA_VERSION, BeatRecord, Catalogue, default_catalogue,
                                      default_plan, planned_beat_of, read_index)
from beat_selection.features import Analysis, analyze, camelot, key_name

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample.wav"
REQUIRE_SERVICES = os.environ.get("BEAT_SELECTION_REQUIRE_SERVICES") == "1"
def _installed_postgres_bin() -> Path:
    "Debian's (and Ubuntu's) server binaries: /usr/lib/postgresql/<major>/bin, the newest major installed."
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


POSTGRES_BIN = Path(os.environ.get("BEAT_SELECTION_POSTGRES_BIN") or _installed_postgres_bin())


# --- a PostgreSQL server for the session, and one fresh database per test ---

def _unavailable(reason: str) -> None:
    "Skip, or fail where CI requires every service (BEAT_SELECTION_REQUIRE_SERVICES=1)."
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}, and BEAT_SELECTION_REQUIRE_SERVICES=1 requires it")
    pytest.skip(reason)


def _as_server_user() -> list[str]:
    "PostgreSQL refuses to run as root: as root, run it as `nobody`."
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        _unavailable("running as root without setpriv: PostgreSQL cannot be started as another user")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture(scope="session")
def postgres_server():
    "The URL of a PostgreSQL server of our own (initdb + pg_ctl on a temporary folder and a free port)."
    if not (POSTGRES_BIN / "initdb").is_file():
        _unavailable(f"no PostgreSQL server in {POSTGRES_BIN} (Debian: apt-get install postgresql)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'beat-selection[scale]')")
    from conftest import free_port
    folder = Path(tempfile.mkdtemp(prefix="pg-"))
    folder.chmod(0o777)  # the server's user writes here
    port, user = free_port(), _as_server_user()
    data = folder / "data"
    subprocess.run(user + [str(POSTGRES_BIN / "initdb"), "-D", str(data), "-U", "beats", "--auth=trust",
                           "--no-locale", "-E", "UTF8"], check=True, capture_output=True, cwd=folder)
    # fsync off: these tests kill clients, never the machine; a committed row is safe in the server's memory
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(user + [str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"),
                           "-w", "-t", "60", "start"], check=True, capture_output=True, cwd=folder)
    try:
        yield f"postgresql://beats@127.0.0.1:{port}"
    finally:
        subprocess.run(user + [str(POSTGRES_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, cwd=folder)
        shutil.rmtree(folder, ignore_errors=True)


_databases = iter(range(1, 1_000_000))


def fresh_database(server: str) -> str:
    "The URL of a new, empty database on `server`."
    import psycopg
    name = f"catalogue_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request, tmp_path):
    "Where a test's catalogue lives: a folder (SQLite), or a URL of a fresh PostgreSQL database."
    if request.param == "sqlite":
        return tmp_path / "catalogue"
    return fresh_database(request.getfixturevalue("postgres_server"))


# --- a deterministic stand-in for beat_selection.model.describe; module level so spawned processes can use it ---

@dataclass
class FakePrediction:
    style: str
    confidence: float
    probabilities: dict[str, float]
    embedding: np.ndarray


def _prediction(seed: int) -> FakePrediction:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(len(STYLE_IDS)))
    embedding = rng.standard_normal(EMBEDDING_DIM).astype(np.float32)
    return FakePrediction(STYLE_IDS[int(p.argmax())], float(p.max()), dict(zip(STYLE_IDS, p.tolist())),
                          embedding / np.linalg.norm(embedding))


def fake_describe(audio):
    "The real analysis; probabilities and embedding drawn from the tempo and key."
    analysis = analyze(audio)
    return analysis, _prediction(int(analysis.tempo * 100) + analysis.key)


def quick_describe(audio):
    "A made-up analysis in microseconds: spawned processes skip the analysis's start-up (librosa, numba)."
    samples = audio.samples if hasattr(audio, "samples") else np.asarray(audio)
    rms = float(np.sqrt(np.mean(samples ** 2)))
    tonic = int(rms * 1e4) % 12
    analysis = Analysis(
        duration=round(len(samples) / DEFAULT_SR, 3), tempo=round(60 + 200 * rms, 2), tempo_confidence=0.5,
        tempo_candidates=[], beat_times=[], time_signature=4, time_signature_confidence=0.5, key=tonic, mode=1,
        key_name=key_name(tonic, False), camelot=camelot(tonic, False), key_confidence=0.5, key_runner_up="",
        tuning=0.0, loudness=-14.0, dynamic_range=5.0, energy=round(min(1.0, 3 * rms), 3), danceability=0.5,
        rhythm_grid={}, swing=50.0, syncopation=0.0, onset_rate=1.0, chroma=[0.0] * 12)
    return analysis, _prediction(int(rms * 1e6))


def logging_describe(audio):
    "quick_describe, writing the describing process's pid to $CATALOGUE_TEST_LOG."
    with open(os.environ["CATALOGUE_TEST_LOG"], "a") as log:
        log.write(f"{os.getpid()}\n")
    return quick_describe(audio)


def click_track(i: int, seconds: float = 3.0) -> bytes:
    "A distinct little WAV per `i`: clicks at 80 + 7i BPM over a tone."
    t = np.arange(int(seconds * DEFAULT_SR)) / DEFAULT_SR
    y = 0.2 * np.sin(2 * np.pi * (220 + 20 * i) * t)
    for beat in np.arange(0, seconds, 60 / (80 + 7 * i)):
        start = int(beat * DEFAULT_SR)
        y[start:start + 200] += 0.6 * np.hanning(400)[200:]
    buffer = io.BytesIO()
    sf.write(buffer, y.astype(np.float32), DEFAULT_SR, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


# --- single-process behaviour ---

def test_add_file_roundtrip_and_filters(where):
    catalogue = Catalogue(where, describe=fake_describe)
    record = catalogue.add_file(SAMPLE, style="afro")
    assert isinstance(record, BeatRecord)
    assert (record.name, record.style, record.source, record.seed, record.kit) == ("sample", "afro", "user", None, None)
    assert record.embedding.dtype == np.float32 and record.embedding.shape == (EMBEDDING_DIM,)
    assert set(record.style_probabilities) == set(STYLE_IDS)
    assert record.analysis["tempo"] == record.bpm
    assert json.loads(json.dumps(record.to_dict()))["key"] == record.key

    again = Catalogue(where)  # a fresh object over the same directory (or database), without any describer
    assert again.get(record.id) == record
    assert np.array_equal(again.get(record.id).embedding, record.embedding)
    audio, sr = sf.read(again.audio_path(record.id))
    assert sr == DEFAULT_SR and audio.ndim == 1 and abs(len(audio) / sr - record.duration) < 0.01

    other = catalogue.add_file(click_track(0), name="clicks")  # bytes; style from the describer
    assert other.style in STYLE_IDS and other.name == "clicks"
    assert len(catalogue) == catalogue.count() == 2
    assert [r.id for r in catalogue.list(style="afro")] == [record.id]
    assert catalogue.count(key=record.camelot.lower()) >= 1
    assert catalogue.count(key=record.key) == catalogue.count(key=record.camelot)
    assert catalogue.count(bpm_min=record.bpm, bpm_max=record.bpm) >= 1
    assert catalogue.count(bpm_min=400) == 0
    assert len(catalogue.list(limit=1)) == 1 and len(catalogue.list(limit=1, offset=1)) == 1
    ids, vectors = catalogue.embeddings()
    assert sorted(ids) == ids and set(ids) == {record.id, other.id} and vectors.shape == (2, EMBEDDING_DIM)


def test_readding_the_same_audio_updates_it(where):
    catalogue = Catalogue(where, describe=fake_describe)
    first = catalogue.add_file(SAMPLE, style="afro")
    second = catalogue.add_file(SAMPLE.read_bytes(), name="renamed", style="house")
    assert (second.id, second.name, second.style, second.created_at) == (first.id, "renamed", "house", first.created_at)
    assert len(catalogue) == 1


def test_bad_input(where):
    catalogue = Catalogue(where, describe=fake_describe)
    with pytest.raises(ValueError, match="unknown style"):
        catalogue.add_file(SAMPLE, style="polka")
    with pytest.raises(EmptyAudioError):
        catalogue.add_file(b"")
    with pytest.raises(AudioError):
        catalogue.add_file(b"not audio, only some text bytes")
    with pytest.raises(ValueError, match="not a key"):
        catalogue.list(key="H minor")
    with pytest.raises(ValueError, match="unknown style"):
        catalogue.count(style="polka")
    with pytest.raises(ValueError, match="not a beat id"):
        catalogue.audio_path("../../etc/passwd")
    assert catalogue.get("missing") is None
    assert len(catalogue) == 0 and catalogue.embeddings()[1].shape == (0, EMBEDDING_DIM)


def test_schema_and_pragmas(tmp_path):
    Catalogue(tmp_path)
    with sqlite3.connect(tmp_path / "catalogue.sqlite") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="schema version"):
        Catalogue(tmp_path)


def test_default_plan():
    plan = default_plan(24)
    assert len(plan) == 24 * len(STYLE_IDS) == len({p.id for p in plan})
    assert all(len({p.key for p in plan if p.style == s}) == 24 for s in STYLE_IDS)
    assert min(p.seed for p in plan) >= 5_000_000
    assert [p.id for p in default_plan(2)] == [p.id for p in default_plan(2)]


def test_default_plan_offers_distinct_grooves():
    "At least 20 grooves per style, each three or more kick/snare/hat steps from every other, and the shipped index is them."
    plan = default_plan(24)
    for style in STYLE_IDS:
        grooves = [catalogue_grooves(style)[p.groove] for p in plan if p.style == style]
        assert len(grooves) >= 20
        assert all(groove_distance(a, b) >= MIN_GROOVE_DISTANCE for a, b in itertools.combinations(grooves, 2)), style
    _, shipped = read_index()
    assert sorted(planned_beat_of(r) for r in shipped) == sorted(plan)


# --- several processes ---

def _reader(root: str, ready, stop, errors, passes) -> None:
    catalogue = Catalogue(root)
    n = 0
    try:
        while not stop.is_set():
            if n == 1:
                ready.release()
            records = catalogue.list(limit=1000)
            for record in records:
                assert catalogue.get(record.id) is not None
                assert catalogue.audio_path(record.id).is_file()  # a row is only inserted after its file
            ids, vectors = catalogue.embeddings()
            assert len(ids) == len(vectors) >= len(records)
            assert catalogue.count() >= len(records)
            n += 1
            time.sleep(0.01)  # leave the writer some CPU on a two-core runner
    except BaseException as error:  # noqa: BLE001 - report anything to the parent
        errors.put(repr(error))
    passes.put(n)


def _writer(root: str, count: int) -> None:
    catalogue = Catalogue(root, describe=quick_describe)
    for i in range(1, count + 1):
        catalogue.add_file(click_track(i), name=f"clicks {i}")


def test_readers_and_a_writer_in_parallel(where):
    catalogue = Catalogue(where, describe=quick_describe)
    catalogue.add_file(click_track(0))
    context = multiprocessing.get_context("spawn")
    ready, stop, errors, passes = context.Semaphore(0), context.Event(), context.Queue(), context.Queue()
    readers = [context.Process(target=_reader, args=(str(where), ready, stop, errors, passes), daemon=True)
               for _ in range(3)]
    writer = context.Process(target=_writer, args=(str(where), 30), daemon=True)
    try:
        for process in readers:
            process.start()
        for _ in readers:
            assert ready.acquire(timeout=60)  # every reader is reading before the writer starts
        writer.start()
        writer.join(timeout=120)
        time.sleep(0.5)  # let the readers see the final state too
        stop.set()
        counts = [passes.get(timeout=30) for _ in readers]
        for process in readers:
            process.join(timeout=30)
    finally:  # a failed assertion must not leave processes that keep pytest from exiting
        stop.set()
        for process in [*readers, writer]:
            if process.is_alive():
                process.terminate()
    reader_errors = []
    while not errors.empty():
        reader_errors.append(errors.get())
    assert writer.exitcode == 0
    assert reader_errors == []
    assert all(n > 0 for n in counts), counts
    assert len(catalogue) == 31
    if catalogue.dialect == "sqlite":
        assert catalogue._connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _build(root: str) -> None:
    default_catalogue(per_style=1, root=root, describe=logging_describe, workers=1, progress=False)


def test_two_processes_build_the_default_once(tmp_path, where, monkeypatch):
    log = tmp_path / "describers.log"
    monkeypatch.setenv("CATALOGUE_TEST_LOG", str(log))
    root = where
    context = multiprocessing.get_context("spawn")
    builders = [context.Process(target=_build, args=(str(root),), daemon=True) for _ in range(2)]
    try:
        for process in builders:
            process.start()
        for process in builders:
            process.join(timeout=120)
    finally:
        for process in builders:
            if process.is_alive():
                process.terminate()
    assert [p.exitcode for p in builders] == [0, 0]
    pids = log.read_text().split()
    assert len(pids) == len(STYLE_IDS) and len(set(pids)) == 1  # one process described every beat, once
    catalogue = Catalogue(root)
    assert len(catalogue) == len(STYLE_IDS) and catalogue._meta("default_per_style") == "1"
    assert {r.source for r in catalogue.list()} == {"generated"}

    log.unlink()
    _build(str(root))  # complete: nothing is generated again
    assert not log.exists()


def test_default_catalogue_location(tmp_path, monkeypatch):
    from beat_selection.catalogue import catalogue_dir
    monkeypatch.setenv("BEAT_SELECTION_CATALOGUE", str(tmp_path / "elsewhere"))
    assert catalogue_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("BEAT_SELECTION_CATALOGUE")
    monkeypatch.setenv("BEAT_SELECTION_CACHE", str(tmp_path / "cache"))
    from beat_selection.beats import GENERATOR_VERSION
    from beat_selection.catalogue import CATALOGUE_VERSION
    from beat_selection.model import analysis_version, model_version
    # a new default plan, generator, analysis or model must never reuse a default catalogue built by the old one
    expected = f"catalogue-v{CATALOGUE_VERSION}-g{GENERATOR_VERSION}-a{analysis_version()}-m{model_version()}"
    assert catalogue_dir() == tmp_path / "cache" / expected


def test_a_catalogue_pickles_as_its_directory(where):
    import pickle
    catalogue = Catalogue(where, describe=quick_describe)
    record = catalogue.add_file(click_track(3))
    copy = pickle.loads(pickle.dumps(catalogue))
    assert copy.root == catalogue.root and copy.describe is quick_describe and copy.get(record.id) == record
    assert copy.url == catalogue.url


def test_a_catalogue_of_previews_is_built_in_worker_processes(tmp_path):
    "The format travels with the jobs: spawned workers encode MP3, and the catalogue remembers it."
    root = tmp_path / "previews"
    built = default_catalogue(per_style=1, root=root, describe=quick_describe, workers=2, progress=False,
                              audio_format="mp3")
    assert len(built) == len(STYLE_IDS)
    files = sorted((root / "audio").iterdir())
    assert len(files) == len(STYLE_IDS) and {f.suffix for f in files} == {".mp3"}
    assert {sf.info(f).format for f in files} == {"MP3"}
    reopened = Catalogue(root)
    assert reopened.audio_format.name == "mp3" and reopened.audio_path(built.list()[0].id).is_file()
    added = reopened.add_file(click_track(2))
    assert reopened.audio_path(added.id).suffix == ".mp3" and sf.info(reopened.audio_path(added.id)).format == "MP3"
    with pytest.raises(ValueError, match="keeps its audio as mp3"):
        default_catalogue(per_style=1, root=root, describe=quick_describe, workers=1, progress=False,
                          audio_format="flac")


def test_a_catalogue_from_before_audio_formats_keeps_flac(tmp_path):
    "A catalogue whose meta table has no audio format yet holds FLAC files: it is read, and recorded, as FLAC."
    catalogue = Catalogue(tmp_path, describe=quick_describe)
    record = catalogue.add_file(click_track(1))
    catalogue._connection().execute("DELETE FROM meta WHERE name = 'audio_format'")
    assert Catalogue(tmp_path, read_only=True).audio_format.name == "flac"
    older = Catalogue(tmp_path, audio_format=None)
    assert older.audio_format.name == "flac" and older._meta("audio_format") == "flac"
    assert older.audio_path(record.id).is_file()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root, to become another user")
def test_a_wal_catalogue_served_by_a_user_who_may_not_write_it():
    "The `immutable=1` branch of `connect_read_only`, as an image's non-root user meets it: no `-shm` can be made."
    folder = Path(tempfile.mkdtemp(prefix="served-catalogue-"))
    try:
        folder.chmod(0o755)  # mkdtemp makes it 0700: the other user must reach the catalogue inside
        root = folder / "catalogue"
        catalogue = Catalogue(root, describe=quick_describe)
        record = catalogue.add_file(click_track(5))
        catalogue.close()
        with contextlib.closing(sqlite3.connect(root / "catalogue.sqlite")) as check:
            assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        before = sorted(p.name for p in root.iterdir())
        assert not any(name.endswith(("-shm", "-wal")) for name in before)  # the writer folded its WAL in
        for path in (root / "audio", root):
            path.chmod(0o555)
        for path in (root / "catalogue.sqlite", catalogue.audio_path(record.id)):
            path.chmod(0o444)
        reader = ("import sys; from beat_selection.catalogue import Catalogue; c = Catalogue(sys.argv[1]); "
                  "print(c.read_only, len(c), c.get(sys.argv[2]).id, c.audio_path(sys.argv[2]).is_file())")
        nobody = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                                 reader, str(root), record.id], capture_output=True, text=True, timeout=120,
                                env={**os.environ, "NUMBA_CACHE_DIR": str(folder / "numba")}, cwd=folder)
        assert nobody.returncode == 0, nobody.stderr[-2000:]
        assert nobody.stdout.split() == ["True", "1", record.id, "True"]
        assert sorted(p.name for p in root.iterdir()) == before  # nothing written: no -shm, no -wal
    finally:
        for path in folder.rglob("*"):
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(folder)


def test_add_file_with_the_real_model(where):
    "The default describer is the shipped style model: a user's beat gets its analysis, style and embedding."
    from conftest import SAMPLE
    from beat_selection.beats import STYLE_IDS
    catalogue = Catalogue(where)
    record = catalogue.add_file(SAMPLE, name="sample")
    assert record.style in STYLE_IDS and record.source == "user"
    assert record.embedding.shape == (EMBEDDING_DIM,) and abs(float(np.linalg.norm(record.embedding)) - 1) < 1e-4
    assert catalogue.get(record.id).name == "sample" and catalogue.audio_path(record.id).is_file()


# --- a writer killed mid-insert (both backends); PostgreSQL only: versions, two API servers on one database ---

def test_postgres_schema_has_an_explicit_version(postgres_server):
    import psycopg
    url = fresh_database(postgres_server)
    catalogue = Catalogue(url, describe=quick_describe)
    assert catalogue.dialect == "postgresql" and "***" not in repr(catalogue)
    with psycopg.connect(url, autocommit=True) as connection:
        assert connection.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert connection.execute("SELECT data_type FROM information_schema.columns WHERE table_name = 'beats' "
                                  "AND column_name = 'embedding'").fetchone() == ("bytea",)
        connection.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    with pytest.raises(RuntimeError, match="schema version"):
        Catalogue(url)


_KILLED_WRITER = """
import sys
sys.path.insert(0, sys.argv[2])
from test_catalogue import Catalogue, click_track, quick_describe
catalogue = Catalogue(sys.argv[1], describe=quick_describe)
for i in range(1000):
    record = catalogue.add_file(click_track(i % 40, seconds=2.0 + i / 1000), name=f"take {i}")
    print(record.id, flush=True)  # printed only once its transaction is committed
"""


def test_a_writer_killed_mid_insert_loses_nothing_committed(where):
    import signal
    url = str(where)
    Catalogue(url)  # the schema, before the race
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, url, str(Path(__file__).parent)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    committed = []
    deadline = time.monotonic() + 60
    while len(committed) < 15 and time.monotonic() < deadline:
        line = writer.stdout.readline()
        assert line, writer.stderr.read()[-2000:]
        committed.append(line.strip())
    time.sleep(0.05)  # somewhere inside the next insert
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    committed += [line.strip() for line in writer.stdout.read().splitlines()]
    catalogue = Catalogue(url)
    stored = catalogue.ids()
    assert set(committed) <= stored and len(stored) <= len(committed) + 1  # at most the one in flight, whole
    if catalogue.dialect == "postgresql":
        rows, audio = (catalogue._connection().execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("beats", "audio"))
        assert rows == audio == len(stored)  # never a row without its audio, nor audio without its row
    else:
        assert catalogue._connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for id in stored:  # SQLite writes the file before the row: a row always has its audio
        assert sf.info(catalogue.audio_path(id)).duration >= 2.0


def test_two_api_servers_share_one_catalogue(postgres_server, tmp_path):
    "A beat added through one server is recommended by the other on its next request."
    import httpx
    from conftest import API_KEY, free_port, wait_ready
    url = fresh_database(postgres_server)
    seed = Catalogue(url, describe=fake_describe)  # real rhythm grids: the recommender reads them
    for i in range(4):
        seed.add_file(click_track(i), name=f"clicks {i}")
    seed.close()
    servers = []
    try:
        for name in ("a", "b"):
            port = free_port()
            env = {**os.environ, "BEAT_SELECTION_CATALOGUE": url, "BEAT_SELECTION_WORKERS": "1",
                   "BEAT_SELECTION_API_KEY": API_KEY, "BEAT_SELECTION_CACHE": str(tmp_path / f"cache-{name}")}
            log = open(tmp_path / f"{name}.log", "wb")
            servers.append((f"http://127.0.0.1:{port}", subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "beat_selection.api:app", "--host", "127.0.0.1", "--port", str(port)],
                env=env, stdout=log, stderr=subprocess.STDOUT)))
        for base, process in servers:
            wait_ready(base, 120, process)
        (a, _), (b, _) = servers
        sample = SAMPLE.read_bytes()
        before = httpx.post(f"{b}/recommend", files={"file": ("s.wav", sample)}, data={"top_k": "1"}, timeout=120)
        assert before.status_code == 200, before.text
        added = httpx.post(f"{a}/beats", files={"file": ("mine.wav", sample)}, data={"name": "shared"},
                           headers={"X-API-Key": API_KEY}, timeout=120)
        assert added.status_code == 201, added.text
        after = httpx.post(f"{b}/recommend", files={"file": ("s.wav", sample)}, data={"top_k": "1"}, timeout=120)
        assert after.status_code == 200, after.text
        assert before.json()["matches"][0]["id"] != added.json()["id"]
        assert after.json()["matches"][0]["id"] == added.json()["id"]
        audio = httpx.get(f"{b}{after.json()['matches'][0]['audio_url']}", timeout=60)  # b never saw the file
        assert audio.status_code == 200 and audio.content[:4] == b"fLaC"
    finally:
        for _, process in servers:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
    for name in ("a", "b"):
        assert "Traceback" not in (tmp_path / f"{name}.log").read_text(errors="replace")
