# One entry for set-up, tests and the demo. `make test` and `make demo` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The lock for this machine: lock/linux-x86_64*.txt or lock/macos-arm64*.txt.
PLATFORM := $(subst darwin,macos,$(shell uname -s | tr A-Z a-z))-$(subst aarch64,arm64,$(shell uname -m))
LOCK := lock/$(PLATFORM).txt
XTTS_LOCK := lock/$(PLATFORM)-xtts.txt
TORCH_WHEELS ?= $(wildcard /opt/wheels)
TORCH_WHEELS_FLAG := $(if $(TORCH_WHEELS),--find-links $(TORCH_WHEELS))
# Debian packages the tests and playback need: PortAudio for sounddevice, espeak-ng as a system voice.
# With no sound card, the tests give PortAudio ALSA null devices of their own
# (tests/data/asound.conf through ALSA_CONFIG_PATH): nothing else to install or configure.
APT_PACKAGES := libportaudio2 espeak-ng libopenblas0-pthread

.PHONY: setup sysdeps test lint demo clean setup-xtts test-xtts lock

setup: sysdeps $(VENV)/.installed

# Installs the Debian packages when they are missing and we may (root with apt); elsewhere
# it only says what is missing, so a Mac or an unprivileged user is not blocked.
sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ] || ! command -v dpkg >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "streamtts: please install:$$missing (e.g. sudo apt-get install$$missing)"; fi

# Installs go through the lock (lock/README.md): exact versions with their hashes, no
# resolution and no dependency of a dependency picked up on the day. The CPU torch for
# Linux comes from TORCH_WHEELS (a folder or index of PyTorch's CPU wheels; these machines
# carry one in /opt/wheels, which pip's own configuration already names).
$(VENV)/.installed: $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes --no-deps $(TORCH_WHEELS_FLAG) -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest -q
	$(MAKE) --no-print-directory test-xtts

# XTTS v2 (coqui-tts) lives in its own environment. coqui-tts imports torchaudio and, with
# torch >= 2.9, insists that torchcodec is installed, but PyPI's Linux builds of both are
# CUDA builds (their libraries need libc10_cuda / libnvrtc) while these machines carry the CPU
# torch. streamtts needs only torchaudio's pure-Python transforms and reads reference WAVs
# itself, never through torchcodec: so the CPU torch, the two without their dependencies
# (lock/xtts-linux.in; the lock installs with --no-deps anyway), and torchaudio's compiled
# ops (alignment, RNN-T loss) removed, which torchaudio then skips. On macOS the lock holds
# PyPI's matching builds and the rm finds nothing to remove.
XTTS_VENV ?= .venv-xtts
XTTS_BIN := $(XTTS_VENV)/bin

setup-xtts: $(XTTS_VENV)/.installed

$(XTTS_VENV)/.installed: $(XTTS_LOCK) pyproject.toml
	$(PYTHON) -m venv $(XTTS_VENV)
	$(XTTS_BIN)/pip install -q --require-hashes --no-deps $(TORCH_WHEELS_FLAG) -r $(XTTS_LOCK)
	$(XTTS_BIN)/pip install -q --no-deps --no-build-isolation -e .
	rm -f $(XTTS_VENV)/lib/python3*/site-packages/torchaudio/lib/*.so
	touch $@

test-xtts: setup-xtts
	$(XTTS_BIN)/pytest -q tests/test_xtts.py

# Speaks a bundled Claude Code transcript in Japanese: the English one through NLLB when a
# converted model exists (fetched and converted once when the Hugging Face hub is reachable),
# else the one in which the agent answered in Japanese. No sound device: a WAV file instead.
DEMO_WAV ?= streamtts-demo.wav
demo: setup
	@examples=streamtts/examples; \
	model=$$($(BIN)/python -c 'from streamtts.translate import default_model_dir; print(default_model_dir())'); \
	if [ ! -f "$$model/manifest.json" ] && $(BIN)/python -c 'import socket; socket.create_connection(("huggingface.co", 443), 5)' 2>/dev/null; then \
		echo "streamtts: fetching NLLB-200 (about 2.5 GB) and converting it, once"; $(BIN)/streamtts convert; fi; \
	if [ -f "$$model/manifest.json" ]; then set -- $$examples/claude-english.jsonl --translate nllb; \
	else echo "streamtts: no converted model at $$model and no Hugging Face hub here, so the demo speaks the agent's Japanese answer (--translate auto)"; \
		set -- $$examples/claude-japanese.jsonl --translate auto; fi; \
	if ! $(BIN)/python -c 'import sounddevice as sd; sd.query_devices(kind="output")' >/dev/null 2>&1; then \
		echo "streamtts: no sound device here, so the speech goes to $(CURDIR)/$(DEMO_WAV)"; set -- "$$@" --output $(DEMO_WAV); fi; \
	$(BIN)/streamtts speak "$$@" --print --stats

# Refreshes the locks on purpose: resolve the newest versions pyproject.toml allows, for
# both platforms, with uv (pinned here). Afterwards run `make clean test` and read the diff.
UV_VERSION := 0.13.8
LOCK_VENV := .venv-lock
UV := $(LOCK_VENV)/bin/uv
COMPILE = $(UV) pip compile --quiet --generate-hashes --python-version 3.11 --no-header
LINUX := --python-platform x86_64-manylinux_2_35 $(TORCH_WHEELS_FLAG)
MACOS := --python-platform aarch64-apple-darwin
lock:
	@test -x $(UV) || { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install -q uv==$(UV_VERSION); }
	$(COMPILE) $(LINUX) pyproject.toml lock/torch.in --extra convert --extra bench --extra dev -o lock/linux-x86_64.txt
	MACOSX_DEPLOYMENT_TARGET=14.0 $(COMPILE) $(MACOS) pyproject.toml lock/torch.in --extra convert --extra bench --extra dev -o lock/macos-arm64.txt
	$(COMPILE) $(LINUX) pyproject.toml lock/xtts-linux.in --override lock/xtts-linux.overrides --extra xtts --extra dev -o lock/linux-x86_64-xtts.txt
	MACOSX_DEPLOYMENT_TARGET=14.0 $(COMPILE) $(MACOS) pyproject.toml lock/xtts-macos.in --extra xtts --extra dev -o lock/macos-arm64-xtts.txt

clean:
	rm -rf $(VENV) $(XTTS_VENV) $(LOCK_VENV) build *.egg-info .pytest_cache .ruff_cache $(DEMO_WAV)
