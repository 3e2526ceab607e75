"`beat-select scan`: a library into Parquet, resumable after `kill -9`, on a local pool and on a real Ray cluster."
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import SAMPLE, free_port

REQUIRE_SERVICES = os.environ.get("BEAT_SELECTION_REQUIRE_SERVICES") == "1"
ROOT = Path(__file__).parent.parent


def need(module: str, why: str) -> None:
    "Skip (or, where CI requires the services, fail) when `module` is not installed."
    if importlib.util.find_spec(module) is None:
        message = f"{module} is not installed ({why}): pip install 'beat-selection[scale]'"
        if REQUIRE_SERVICES:
            pytest.fail(message + "; BEAT_SELECTION_REQUIRE_SERVICES=1 makes this a failure")
        pytest.skip(message)


def make_library(folder: Path, distinct: int) -> set[str]:
    "`distinct` different short takes, a copy of the first, and a file named like audio that is not: every path."
    samples, sr = sf.read(SAMPLE, dtype="float32")
    (folder / "sub").mkdir(parents=True)
    for i in range(distinct):
        sf.write(folder / f"take{i:02d}.wav", samples[: 3 * sr] * (0.3 + 0.6 * i / distinct), sr)
    shutil.copy(folder / "take00.wav", folder / "sub" / "copy.wav")
    (folder / "sub" / "broken.wav").write_bytes(b"RIFF but nothing else")
    return {str(p) for p in folder.rglob("*.wav")}


def beat_select() -> list[str]:
    return [str(Path(sys.executable).parent / "beat-select")]


def dataset_paths(out: Path) -> list[str]:
    from beat_selection.scan import read_scan
    return read_scan(out, ["path"]).column("path").to_pylist()


@pytest.fixture
def env():
    "The environment of a child process: this checkout first on the path, numba's cache where the tests keep it."
    return os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def test_scan_killed_then_restarted_has_every_file_exactly_once(tmp_path, env):
    need("pyarrow", "the scan writes Parquet")
    # enough files that the kill comes mid-run even on a quiet machine (a 3 s take is analysed in about 50 ms)
    paths = make_library(tmp_path / "music", distinct=40)
    out = tmp_path / "library"
    command = beat_select() + ["scan", str(tmp_path / "music"), "--out", str(out), "--workers", "1",
                               "--rows-per-part", "1"]
    first = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(list(out.glob("part-*.parquet"))) < 3 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.poll() is None, f"the scan ended before it could be killed: {first.stderr.read().decode()[-2000:]}"
    os.killpg(first.pid, signal.SIGKILL)  # the scan and its worker, mid-run, with no chance to clean up
    first.wait()
    done_before = dataset_paths(out)
    assert 3 <= len(done_before) < len(paths), done_before

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"{len(done_before)} already in" in second.stdout, second.stdout
    done = dataset_paths(out)
    assert sorted(done) == sorted(paths)  # every file, exactly once
    assert not list(out.glob(".part-*.tmp"))  # a part half-written at the kill was removed, its rows redone

    from beat_selection.scan import read_scan
    rows = {Path(r["path"]).name: r for r in read_scan(out, ["path", "error_code", "tempo", "content_hash"]).to_pylist()}
    assert rows["broken.wav"]["error_code"] == "corrupt_audio"  # a RIFF header, then nothing
    assert rows["copy.wav"]["content_hash"] == rows["take00.wav"]["content_hash"]
    assert rows["copy.wav"]["tempo"] == rows["take00.wav"]["tempo"]
    assert all(r["error_code"] is None and 60 < r["tempo"] < 200 for n, r in rows.items() if n != "broken.wav")


def test_a_third_run_skips_everything(tmp_path):
    need("pyarrow", "the scan writes Parquet")
    from beat_selection.scan import scan
    paths = make_library(tmp_path / "music", distinct=2)
    first = scan(tmp_path / "music", tmp_path / "library", workers=1, progress=False)
    assert (first.analysed, first.reused, first.failed) == (2, 1, 1)
    again = scan(tmp_path / "music", tmp_path / "library", workers=1, progress=False)
    assert (again.skipped, again.analysed, again.reused, again.failed) == (len(paths), 0, 0, 0)
    assert sorted(dataset_paths(tmp_path / "library")) == sorted(paths)


def test_cli_names_a_missing_source(tmp_path, capsys):
    from beat_selection.cli import EXIT_UNREADABLE, main
    assert main(["scan", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == EXIT_UNREADABLE
    assert "nowhere" in capsys.readouterr().err


# --- a real Ray cluster on this machine ---------------------------------------------------------------------

# a cluster on 127.0.0.1 for the test's own processes: no token (a token file left in ~/.ray by another local Ray
# would otherwise switch the head to token authentication while its clients stay without one)
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


@pytest.fixture(scope="module")
def ray_cluster():
    "A Ray head started with `ray start --head --block` on a free port, its processes in a session of their own."
    need("ray", "the scan on a cluster")
    port = free_port()
    temp = tempfile.mkdtemp(prefix="ray-")  # short: Ray's socket paths must fit in 107 characters
    env = os.environ | RAY_ENV | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    ray_bin = str(Path(sys.executable).parent / "ray")
    # every Ray process listens on the loopback address only: nothing of this test leaves the machine
    head = subprocess.Popen([ray_bin, "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
                             "--node-ip-address=127.0.0.1",
                             "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
                            env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert head.poll() is None, f"ray start failed: {head.stderr.read().decode()[-2000:]}"
            if subprocess.run([ray_bin, "status", f"--address={address}"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(1)
        else:
            pytest.fail("the Ray head did not answer within 90 s")
        yield address
    finally:  # also when the head never answered: nothing of it may outlive the tests
        os.killpg(head.pid, signal.SIGTERM)  # --block stops the cluster's processes when it is told to stop
        try:
            head.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(temp, ignore_errors=True)


def test_scan_on_a_ray_cluster_matches_the_local_pool(tmp_path, ray_cluster, env):
    need("pyarrow", "the scan writes Parquet")
    from beat_selection.scan import read_scan
    paths = make_library(tmp_path / "music", distinct=3)
    run = subprocess.run(beat_select() + ["scan", str(tmp_path / "music"), "--out", str(tmp_path / "on-ray"),
                                          "--ray", ray_cluster], env=env | RAY_ENV, capture_output=True, text=True,
                         timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "3 analysed, 1 reused" in run.stdout, run.stdout
    on_ray = {r["path"]: r for r in read_scan(tmp_path / "on-ray").to_pylist()}
    assert sorted(on_ray) == sorted(paths)

    from beat_selection.scan import describe_file
    local = describe_file(str(tmp_path / "music" / "take01.wav"))
    remote = on_ray[str(tmp_path / "music" / "take01.wav")]
    assert remote["tempo"] == local["tempo"] and remote["key_name"] == local["key_name"]
    np.testing.assert_allclose(remote["embedding"], local["embedding"], atol=1e-4)
