# beat_selection: every target sets up .venv first when it is missing or stale.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0
# librosa's numba functions are compiled once and cached here; parallel first compiles can corrupt a cache.
export NUMBA_CACHE_DIR := $(CURDIR)/.venv/numba-cache

.PHONY: setup test check-sync nbtest pytest serve bench train train-tempo lab clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps tinysoundfont  # its pyaudio dependency is for live playback only
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	$(BIN)/python -c "import numpy as np; from beat_selection.features import analyze; \
	    analyze(np.random.default_rng(0).standard_normal(22050 * 5).astype(np.float32))"  # compile numba once, serially
	touch $@

setup: $(STAMP)

# Everything CI checks: notebooks and library in sync, notebook tests, pytest.
test: setup check-sync nbtest pytest

# Fails when nbdev-clean or nbdev-export would change a tracked file.
check-sync: setup
	@snapshot() { find nbs beat_selection -type f \( -name '*.ipynb' -o -name '*.py' \) \
	    -not -path '*/.ipynb_checkpoints/*' -not -path '*/__pycache__/*' | sort | xargs sha1sum; }; \
	before=$$(snapshot); $(BIN)/nbdev-clean && $(BIN)/nbdev-export; after=$$(snapshot); \
	if [ "$$before" != "$$after" ]; then \
	  echo "nbdev-clean / nbdev-export changed files: run them and commit the result."; \
	  diff <(echo "$$before") <(echo "$$after"); exit 1; fi; \
	echo "notebooks clean, library in sync with nbs/"

nbtest: setup
	$(BIN)/nbdev-test --n-workers 2

pytest: setup
	$(BIN)/python -m pytest

# The API and its demo page on http://127.0.0.1:8000 (the default catalogue is generated on first use).
HOST ?= 127.0.0.1
PORT ?= 8000
serve: setup
	$(BIN)/beat-select catalogue build
	$(BIN)/beat-select serve --host $(HOST) --port $(PORT)

# Needs Debian's fluid-soundfont-gm (real-score key set, sampled kits), hydrogen-drumkits (sampled kits)
# and mma (third-party grooves for the style model): apt-get install fluid-soundfont-gm hydrogen-drumkits mma.
bench: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev,bench]"
	$(BIN)/python bench/analysis.py
	$(BIN)/python bench/model.py
	$(BIN)/python bench/recommend.py
	$(BIN)/python bench/api.py

# Retrain the tempo-level model shipped in beat_selection/models/tempo_level.json.
train-tempo: setup
	$(BIN)/python bench/train_tempo_level.py

# Retrain the style model shipped in beat_selection/models/style_model.{onnx,json} (datasets are cached).
train: setup
	$(BIN)/beat-select train

lab: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check jupyterlab
	$(BIN)/jupyter lab nbs/

clean:
	rm -rf $(VENV) _docs _proc .pytest_cache
