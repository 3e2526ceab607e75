"""librosa's compiled functions are cached by one process at a time (`core.import_librosa`, chapter 00).

Two processes importing librosa on a cold numba cache at once can leave cache files from different processes
(numba issue 10128), and every later process that loads them crashes. These tests start processes together on an
empty cache and check that every one of them, and one started after them, runs librosa's beat tracker; and that
no code of the project imports librosa another way."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BEAT_TRACK = """
import numpy as np
from beat_selection.core import import_librosa
librosa = import_librosa()
y = np.random.default_rng(0).standard_normal(22050 * 4).astype(np.float32)
print(float(np.atleast_1d(librosa.beat.beat_track(y=y, sr=22050)[0])[0]))
"""


def test_processes_starting_cold_together_all_run_librosa(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"} | {"BEAT_SELECTION_CACHE": str(tmp_path)}
    started = [subprocess.Popen([sys.executable, "-c", BEAT_TRACK], env=env, cwd=tmp_path, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = [(p.wait(timeout=600), *p.communicate()) for p in started]
    later = subprocess.run([sys.executable, "-c", BEAT_TRACK], env=env, cwd=tmp_path, text=True,
                           capture_output=True, timeout=600)
    results.append((later.returncode, later.stdout, later.stderr))
    for code, out, err in results:
        assert code == 0, err[-2000:]  # a damaged cache ends a process with SIGSEGV (-11)
    assert len({out for _, out, _ in results}) == 1  # the same tempo from every process
    assert sum("waiting for another process" in err for _, _, err in results) <= 1  # the later one never waits
    assert list(tmp_path.glob("numba-*/librosa-*.compiled"))


def test_librosa_is_only_imported_through_import_librosa():
    bare = re.compile(r"^\s*(import librosa\s*(#.*)?$|from librosa\b)", re.MULTILINE)
    files = [*ROOT.glob("beat_selection/**/*.py"), *ROOT.glob("bench/*.py"), *ROOT.glob("nbs/*.ipynb"),
             *ROOT.glob("slides/*.ipynb"), *ROOT.glob("tests/*.py")]
    offenders = []
    for path in files:
        text = path.read_text()
        if path.suffix == ".ipynb":  # a notebook's cell lines are JSON strings: "import librosa\n"
            text = "\n".join(re.findall(r'^\s*"(.*?)(?:\\n)?",?$', text, re.MULTILINE))
        if path.name in ("core.py", "00_core.ipynb"):  # where import_librosa itself imports it, under the lock
            continue
        offenders += [f"{path.relative_to(ROOT)}: {m.group(0).strip()}" for m in bare.finditer(text)]
    assert not offenders, "import librosa with beat_selection.core.import_librosa():\n" + "\n".join(offenders)
