# beat_selection: every target sets up .venv first when it is missing or stale.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0

.PHONY: setup optional-packages test check-sync nbtest pytest serve bench train train-tempo train-bar-lines default-index lab clean lint docker docker-smoke nbval carousel

# Each job installs only what it needs: serving the base package (no PyTorch, no plotting), the slides and the
# course their extras, the tests everything (a superset of the others, so it satisfies them all).
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# Debian packages the project uses when present; none is needed to serve or to pass the tests' stored outputs.
OPTIONAL_DEBS := ffmpeg rubberband-cli fluid-soundfont-gm timgm6mb-soundfont csound-soundfont avldrums.lv2-soundfont hydrogen-drumkits hydrogen-data \
	mma chromium postgresql

$(VENV)/.installed-serve: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.installed-slides: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e ".[slides]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@ $(VENV)/.installed-serve

$(VENV)/.installed-lab: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e ".[lab]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@ $(VENV)/.installed-serve $(VENV)/.installed-slides

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e ".[dev]"
	$(PIP_INSTALL) --no-deps tinysoundfont  # its pyaudio dependency is for live playback only
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@$(MAKE) --no-print-directory optional-packages
	touch $@ $(VENV)/.installed-serve $(VENV)/.installed-slides

setup: $(STAMP)

# Says which optional Debian packages are missing, what each adds, and how to add them.
optional-packages:
	@if command -v dpkg >/dev/null; then \
	  missing=$$(for p in $(OPTIONAL_DEBS); do dpkg -s $$p >/dev/null 2>&1 || printf '%s ' $$p; done); \
	  if [ -n "$$missing" ]; then \
	    echo "optional packages not installed: $$missing"; \
	    echo "  (sampled drum kits and third-party grooves for training and benchmarks, M4A/WebM decoding, stretching users' beats, the browser"; \
	    echo "   and PostgreSQL tests; each is skipped with its reason when absent)"; \
	    echo "  add them with: sudo apt-get install $$missing"; \
	  fi; fi

# Everything CI checks: the CI/CD files linted, notebooks and library in sync, notebook tests, pytest.
test: setup lint check-sync nbval pytest

# Fails when nbdev-clean or nbdev-export would change a tracked file.
check-sync: setup
	@snapshot() { find nbs beat_selection -type f \( -name '*.ipynb' -o -name '*.py' \) \
	    -not -path '*/.ipynb_checkpoints/*' -not -path '*/__pycache__/*' | sort | xargs sha1sum; }; \
	before=$$(snapshot); $(BIN)/nbdev-clean && $(BIN)/nbdev-export; after=$$(snapshot); \
	if [ "$$before" != "$$after" ]; then \
	  echo "nbdev-clean / nbdev-export changed files: run them and commit the result."; \
	  diff <(echo "$$before") <(echo "$$after"); exit 1; fi; \
	if grep -l 'papermill-error-cell\|An Exception was encountered at' nbs/*.ipynb; then \
	  echo "these notebooks keep papermill's error banners from a failed run: delete those cells."; exit 1; fi; \
	echo "notebooks clean, library in sync with nbs/"

# The CI/CD workflow against GitHub's workflow schema, the Dockerfile (hadolint), the shell scripts (shellcheck),
# and the package's import layers (lint-imports, contracts in pyproject.toml).
lint: setup
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/ci-cd.yml
	$(BIN)/hadolint docker/Dockerfile
	$(BIN)/shellcheck .ci/run .ci/without-optional-packages docker/*.sh
	$(BIN)/lint-imports

nbtest: setup
	$(BIN)/nbdev-test --n-workers 2

# Every notebook (nbs/*.ipynb) runs again in a fresh kernel and each cell's outputs must match the stored ones,
# after nbs/nbval_sanitize.cfg removes what legitimately varies (timings, paths, progress bars, warnings);
# nbs/conftest.py says why every cell counts as run. It runs the cells nbdev-test runs (and skips the same
# `#| slow` and `#| eval: false` ones), so it checks what nbtest checks and more: `test` runs it instead.
# The notebooks run as two halves side by side, one per core; a failing half is printed after the other.
NBVAL := $(BIN)/python -m pytest --nbval --nbval-sanitize-with nbs/nbval_sanitize.cfg --nbval-current-env \
	--nbval-cell-timeout 600 -p no:cacheprovider -q
nbval: setup
	@notebooks=(nbs/*.ipynb); odd=(); even=(); \
	for i in "$${!notebooks[@]}"; do if (( i % 2 )); then odd+=("$${notebooks[$$i]}"); else even+=("$${notebooks[$$i]}"); fi; done; \
	log=$$(mktemp); $(NBVAL) "$${odd[@]}" > "$$log" 2>&1 & other=$$!; trap 'kill $$other 2>/dev/null; rm -f "$$log"' INT TERM; \
	$(NBVAL) "$${even[@]}"; mine=$$?; wait $$other; theirs=$$?; cat "$$log"; rm -f "$$log"; \
	exit $$(( mine || theirs ))

pytest: setup
	$(BIN)/python -m pytest

# The API and its demo page on http://127.0.0.1:8000 (the default catalogue is generated on first use).
HOST ?= 127.0.0.1
PORT ?= 8000
serve: $(VENV)/.installed-serve
	$(BIN)/beat-select catalogue build
	$(BIN)/beat-select serve --host $(HOST) --port $(PORT)

# The LinkedIn carousel from a real run on INPUT: slides/out/<lang>/page-01.png … and carousel.pdf, made by
# slides/carousel.ipynb under papermill (`make carousel INPUT=song.wav LANG=fr THEME=dark`; the default
# catalogue is generated on first use). LANG is also the locale variable, and make exports a command-line
# variable to its recipes: the language is read from the command line only (the environment's LANG is a
# locale, not a language), and this target and its prerequisites run with a real locale instead of LANG=fr.
INPUT ?= data/sample.wav
THEME ?= light
CAROUSEL_LANG := $(if $(filter command line,$(origin LANG)),$(LANG),en)
carousel: override LANG := C.UTF-8
carousel: $(VENV)/.installed-slides
	mkdir -p slides/out/$(CAROUSEL_LANG)
	$(BIN)/papermill --cwd slides -p input_path "$(abspath $(INPUT))" -p lang $(CAROUSEL_LANG) \
	    -p theme $(THEME) -p out_dir out slides/carousel.ipynb slides/out/$(CAROUSEL_LANG)/carousel.ipynb

# The API image from docker/Dockerfile, with podman (CONTAINER_ENGINE=docker for docker); the base image is
# python:3.11-slim, or a local Debian bookworm made once by docker/local-base-image.sh when no registry can
# be reached. docker-smoke runs the image and checks its answers. podman's settings are the project's own.
IMAGE ?= beat-selection:latest
docker docker-smoke: export CONTAINERS_CONF ?= $(CURDIR)/docker/containers.conf
docker docker-smoke: export CONTAINERS_STORAGE_CONF ?= $(CURDIR)/docker/storage.conf
docker:
	docker/build.sh $(IMAGE)

docker-smoke: docker
	docker/smoke.sh $(IMAGE)

# Needs Debian's fluid-soundfont-gm (real-score key set, sampled kits), hydrogen-drumkits, timgm6mb-soundfont,
# csound-soundfont and avldrums.lv2-soundfont (sampled kits) and mma (third-party grooves for the style model):
# apt-get install fluid-soundfont-gm hydrogen-drumkits timgm6mb-soundfont csound-soundfont avldrums.lv2-soundfont mma.
bench: setup
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev,bench]"
	$(BIN)/python bench/analysis.py
	$(BIN)/python bench/model.py
	$(BIN)/python bench/recommend.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/audition.py
	$(BIN)/python bench/catalogue_choice.py
	$(BIN)/python bench/serve_start.py
	@if command -v lmms >/dev/null; then $(BIN)/python bench/lmms_songs.py; \
	else echo "bench/lmms_songs.py skipped: it renders LMMS's demo songs with Debian's lmms (apt-get install lmms)"; fi

# Retrain the tempo-level model and the tempo classifier shipped in beat_selection/models/tempo_level.json and
# tempo_prior.json; then bump features.ANALYSIS_VERSION and run `make default-index`.
train-tempo: setup
	$(BIN)/python bench/train_tempo_level.py
	$(BIN)/python bench/train_tempo_level.py --prior

# Retrain the mix's bar-line scorer shipped in beat_selection/models/bar_lines.json (its clips are cached).
train-bar-lines: setup
	$(BIN)/python bench/train_bar_lines.py

# Retrain the style model shipped in beat_selection/models/style_model.{onnx,json} (datasets are cached).
train: setup
	$(BIN)/beat-select train
	$(MAKE) default-index

# The default catalogue's index shipped in beat_selection/models/ (records and embeddings, no audio): written
# again from beats generated afresh whenever the plan, the generator, the analysis or the style model changes.
default-index: setup
	$(BIN)/python -c "from beat_selection.catalogue import write_default_index; print(write_default_index())"

lab: $(VENV)/.installed-lab
	cd nbs && ../$(BIN)/jupyter lab index.ipynb  # opens on the course's first page, with nbs/ in the file browser

clean:
	rm -rf $(VENV) _docs _proc .pytest_cache
