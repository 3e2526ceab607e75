"""Cold starts at once, repeated: three `beat-select analyze` and a server started together on an empty user
cache (no NUMBA_CACHE_DIR, a fresh HOME, empty XDG and project caches), then one more `analyze`; each round
counts the commands that exit 0 and whether the server becomes ready. `tests/test_faults.py` runs one round.

    python bench/cold_start.py --rounds 10

It also times the first `analyze` of each round (wall clock, imports included), the figure a user sees after
`pip install .`, beside a warm one of the same process kind in the same round.
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample.wav"
BEAT_SELECT = Path(sys.executable).with_name("beat-select")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready(url: str, seconds: float, server: subprocess.Popen, poll: float = 0.3) -> bool:
    "Whether the server at `url` answers `/ready` with 200 within `seconds` (asking every `poll` seconds)."
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url + "/ready", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(poll)
    return False


def one_round(catalogue: Path) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        home, cache = Path(scratch) / "home", Path(scratch) / "cache"
        home.mkdir(), cache.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
        env.update(HOME=str(home), XDG_CACHE_HOME=str(cache / "xdg"), BEAT_SELECTION_CACHE=str(cache / "project"))
        served = Path(scratch) / "catalogue"
        shutil.copytree(catalogue, served)
        analyze = [str(BEAT_SELECT), "analyze", str(SAMPLE)]
        started = time.monotonic()
        commands = [subprocess.Popen(analyze, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for _ in range(3)]
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "beat_selection.api:app", "--host", "127.0.0.1",
                                   "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env={**env, "BEAT_SELECTION_CATALOGUE": str(served), "BEAT_SELECTION_WORKERS": "1"})
        try:
            codes = [c.wait(timeout=300) for c in commands]
            first = time.monotonic() - started
            server_ready = ready(f"http://127.0.0.1:{port}", 300, server)
            later = time.monotonic()
            one_more = subprocess.run(analyze, env=env, capture_output=True, timeout=300).returncode
            warm = time.monotonic() - later
        finally:
            for c in commands:
                c.kill()
            server.terminate()
            server.wait(20)
    return {"exit_codes": codes + [one_more], "ready": server_ready, "first_s": first, "later_s": warm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    from beat_selection.catalogue import default_catalogue
    with tempfile.TemporaryDirectory() as scratch:
        catalogue = Path(scratch) / "catalogue"
        default_catalogue(per_style=1, root=catalogue, workers=2, progress=False).close()
        results = []
        for i in range(args.rounds):
            r = one_round(catalogue)
            results.append(r)
            print(f"round {i + 1}: exit codes {r['exit_codes']}, server {'ready' if r['ready'] else 'NOT ready'}, "
                  f"three cold analyses done in {r['first_s']:.1f} s, one more in {r['later_s']:.1f} s", flush=True)
    clean = sum(all(c == 0 for c in r["exit_codes"]) and r["ready"] for r in results)
    print(f"{clean} of {len(results)} rounds: every command exited 0 and the server became ready")


if __name__ == "__main__":
    main()
