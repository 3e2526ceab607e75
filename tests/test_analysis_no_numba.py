"The analysis compiles nothing: in a fresh process with empty caches, `analyze` runs no numba compiler and writes no cache."
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
from numba.core import event  # numba itself is only imported here, to listen for its compiler
with event.install_recorder("numba:compile") as compiled:
    from beat_selection.features import analyze
    a = analyze(sys.argv[1])
print(json.dumps({"compiled": len(compiled.buffer), "tempo": a.tempo,
                  "librosa_beat_imported": "librosa.beat" in sys.modules}))
"""


def test_analyze_in_a_fresh_process_compiles_nothing(tmp_path):
    cache, home = tmp_path / "numba-cache", tmp_path / "home"
    cache.mkdir(); home.mkdir()
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "HOME": str(home),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", PROBE, str(ROOT / "data" / "sample.wav")], capture_output=True,
                         text=True, env=env, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["compiled"] == 0, "a numba function was compiled during the analysis"
    assert not result["librosa_beat_imported"]
    assert 50 <= result["tempo"] <= 220
    assert list(cache.rglob("*")) == [], "something was written to numba's cache"
