"Shared helpers: every test writes its own audio."
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from pathlib import Path

SAMPLE = Path(__file__).parent.parent / "data" / "sample.wav"


def chord(seconds: float = 3.0, sr: int = 44_100, channels: int = 1) -> np.ndarray:
    "An A minor triad, (frames, channels) float32."
    t = np.arange(int(seconds * sr)) / sr
    mono = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.6, 329.6)) / 4
    return np.repeat(mono[:, None], channels, axis=1).astype(np.float32)


@pytest.fixture
def write(tmp_path):
    "write(name, data, sr, format=None, subtype=None) -> path of a file written with soundfile."
    def _write(name, data, sr=44_100, format=None, subtype=None):
        path = tmp_path / name
        sf.write(path, data, sr, format=format, subtype=subtype)
        return path
    return _write


# --- a real API server, started once per test session -------------------------------------------------------
import os
import socket
import subprocess
import sys
import time
import urllib.request

API_KEY = "test-key-0123456789"
MAX_UPLOAD = 3_000_000  # small, so that oversize uploads are cheap to send


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, seconds: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {seconds} s")


@pytest.fixture(scope="session")
def small_catalogue(tmp_path_factory) -> Path:
    "A catalogue of one generated beat per style, built once."
    from beat_selection.catalogue import default_catalogue
    root = tmp_path_factory.mktemp("catalogue") / "beats"
    default_catalogue(per_style=1, root=root, workers=2, progress=False).close()
    return root


@pytest.fixture(scope="session")
def server_tmpdir(tmp_path_factory) -> Path:
    "The test server's TMPDIR, where it writes the uploads it receives."
    return tmp_path_factory.mktemp("server-tmp")


@pytest.fixture(scope="session")
def api_server(small_catalogue, server_tmpdir, tmp_path_factory):
    "Base URL of `uvicorn beat_selection.api:app` in a child process, ready to serve."
    port, logs = free_port(), tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "TMPDIR": str(server_tmpdir), "BEAT_SELECTION_CATALOGUE": str(small_catalogue), "BEAT_SELECTION_WORKERS": "2",
           "BEAT_SELECTION_QUEUE": "2", "BEAT_SELECTION_API_KEY": API_KEY,
           "BEAT_SELECTION_MAX_UPLOAD_BYTES": str(MAX_UPLOAD), "BEAT_SELECTION_UPLOAD_IDLE_TIMEOUT": "2",
           "BEAT_SELECTION_MAX_AUDIO_SECONDS": "60",
           # every test client is 127.0.0.1, and some tests stall on purpose: tests/test_faults.py tries these limits
           "BEAT_SELECTION_MAX_UPLOADS_PER_CLIENT": "16", "BEAT_SELECTION_SLOW_CLIENT_COOLDOWN": "0"}
    with open(logs, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "uvicorn", "beat_selection.api:app", "--host", "127.0.0.1",
                                    "--port", str(port), "--no-access-log"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, 120, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
    assert "Traceback" not in logs.read_text(errors="replace"), logs.read_text(errors="replace")[-4000:]
