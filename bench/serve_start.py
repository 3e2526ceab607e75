"""How long `make serve` keeps a new user waiting once the install is done: on an empty user cache (a fresh
`HOME`, empty XDG and project caches), the two commands `make serve` runs, `beat-select catalogue build` and
`beat-select serve`, timed until `/ready` answers 200; then the first preview of a beat (its audio generated
on request) and the same preview again (cached). Beside it, in the same run, the former first start: the
default catalogue generated beat by beat (`default_catalogue(index=None)`), then the same server.

    python bench/serve_start.py --rounds 3
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from cold_start import free_port, ready  # bench/cold_start.py: the same port and readiness checks

BEAT_SELECT = Path(sys.executable).with_name("beat-select")
GENERATE_WITHOUT_INDEX = ("from beat_selection.catalogue import default_catalogue; "
                          "default_catalogue(workers=2, progress=False, index=None)")


def get(url: str, timeout: float = 30) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def one_round(with_index: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as scratch:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BEAT_SELECTION_")}
        env.update(HOME=f"{scratch}/home", XDG_CACHE_HOME=f"{scratch}/xdg", BEAT_SELECTION_CACHE=f"{scratch}/cache")
        os.makedirs(env["HOME"])
        started = time.monotonic()
        build = ([str(BEAT_SELECT), "catalogue", "build"] if with_index
                 else [sys.executable, "-c", GENERATE_WITHOUT_INDEX])
        subprocess.run(build, env=env, check=True, capture_output=True, timeout=1200)
        built = time.monotonic() - started
        port = free_port()
        server = subprocess.Popen([str(BEAT_SELECT), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            if not ready(url, 600, server, poll=0.1):  # a finer poll: the time to ready is the figure
                raise RuntimeError("the server did not become ready")
            ready_s = time.monotonic() - started
            beat = json.loads(get(url + "/beats?limit=1")[1])["items"][0]["id"]
            t = time.monotonic()
            status, first_audio = get(f"{url}/beats/{beat}/audio")
            first = time.monotonic() - t
            t = time.monotonic()
            status_again, again = get(f"{url}/beats/{beat}/audio")
            cached = time.monotonic() - t
            assert status == status_again == 200 and first_audio == again and len(again) > 10_000
        finally:
            server.terminate()
            server.wait(30)
    return dict(catalogue_s=built, ready_s=ready_s, first_preview_s=first, cached_preview_s=cached)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--without-index-rounds", type=int, default=1, help="rounds of the former first start")
    args = parser.parse_args()
    for label, with_index, rounds in (("shipped index", True, args.rounds),
                                      ("generated (former)", False, args.without_index_rounds)):
        results = [one_round(with_index) for _ in range(rounds)]
        if not results:
            continue
        median = {k: statistics.median(r[k] for r in results) for k in results[0]}
        print(f"{label:20} {rounds} round(s), medians: catalogue {median['catalogue_s']:.1f} s, server ready "
              f"{median['ready_s']:.1f} s after the install, first preview {median['first_preview_s'] * 1000:.0f} ms, "
              f"cached {median['cached_preview_s'] * 1000:.0f} ms", flush=True)


if __name__ == "__main__":
    main()
