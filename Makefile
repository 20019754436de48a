# One entry for set-up, tests and the demo. `make test` and `make demo` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Debian packages the tests and playback need: PortAudio for sounddevice, espeak-ng as a system voice.
APT_PACKAGES := libportaudio2 espeak-ng

.PHONY: setup sysdeps test lint demo clean

setup: sysdeps $(VENV)/.installed

# Installs the Debian packages when they are missing and we may (root with apt); elsewhere
# it only says what is missing, so a Mac or an unprivileged user is not blocked.
sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ] || ! command -v dpkg >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "streamtts: please install:$$missing (e.g. sudo apt-get install$$missing)"; fi

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned to the CPU build these machines carry, so nothing pulls a CUDA build.
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[convert,bench,dev]"
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest -q

demo: setup
	$(BIN)/streamtts sentences streamtts/examples/claude-partial.jsonl

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
