# One entry for set-up, tests and the demo. `make demo` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The locks for this machine: lock/linux-x86_64-*.txt or lock/macos-arm64-*.txt (lock/README.md).
PLATFORM := $(subst darwin,macos,$(shell uname -s | tr A-Z a-z))-$(subst aarch64,arm64,$(shell uname -m))
lock_of = lock/$(PLATFORM)-$(1).txt
# PyPI's torch for Linux is a CUDA build of several GB; the CPU build comes from PyTorch's CPU
# wheel index. TORCH_INDEX may name another index, or a local folder of wheels.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_FROM = $(if $(wildcard $(TORCH_INDEX)),--find-links,--extra-index-url) $(TORCH_INDEX)
TORCH_LOCK := $(wildcard lock/$(PLATFORM)-torch.txt)
# Installs go through the locks: exact versions with their hashes, nothing resolved on the day.
PIP_LOCKED := --require-hashes --no-deps
# Debian packages: PortAudio for playback, espeak-ng as the last-resort voice, a threaded
# OpenBLAS for MLX's CPU backend; the tests add strace (no-network checks) and tmux. With no
# sound card, the tests give PortAudio ALSA null devices of their own (tests/data/asound.conf).
APT_RUNTIME := libportaudio2 espeak-ng libopenblas0-pthread
APT_TEST := strace tmux

step = @printf 'streamtts set-up: %s\n' "$(1)"

.PHONY: setup setup-convert setup-dev setup-xtts sysdeps sysdeps-test lint test test-fast \
	test-main test-xtts demo clean lock clients

setup: sysdeps $(VENV)/.runtime
setup-convert: setup $(VENV)/.convert
setup-dev: setup sysdeps-test $(VENV)/.dev

# Installs the Debian packages when they are missing and we may (root with apt); elsewhere
# it only says what is missing, so a Mac or an unprivileged user is not blocked.
define apt_install
@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
if [ -z "$$missing" ] || ! command -v dpkg >/dev/null; then exit 0; fi; \
if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	echo "streamtts set-up: Debian packages:$$missing"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
else echo "streamtts: please install:$$missing (e.g. sudo apt-get install$$missing)"; fi
endef
sysdeps:
	$(call apt_install,$(APT_RUNTIME))
sysdeps-test:
	$(call apt_install,$(APT_TEST))

# $(call new_venv,DIR): a virtual environment, or one line saying which Python is needed.
define new_venv
@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	echo "streamtts: needs Python 3.11 or newer, and $(PYTHON) is $$($(PYTHON) -V 2>&1 || echo missing); run make PYTHON=python3.11 (or newer)"; exit 1; }
$(call step,a virtual environment in $(1))
$(PYTHON) -m venv $(1)
endef
# $(call torch,DIR): the CPU torch on Linux, before a lock that pins it (PyPI's on macOS).
torch = $(if $(TORCH_LOCK),@printf 'streamtts set-up: %s\n' "the CPU build of PyTorch from $(TORCH_INDEX)" \
	&& $(1)/bin/pip install $(PIP_LOCKED) $(TORCH_FROM) -r $(TORCH_LOCK))

$(BIN)/python:
	$(call new_venv,$(VENV))

$(VENV)/.runtime: $(call lock_of,runtime) pyproject.toml | $(BIN)/python
	$(call step,the runtime (about 700 MB on disk) from $<)
	$(BIN)/pip install $(PIP_LOCKED) -r $<
	$(call step,streamtts itself)
	$(BIN)/pip install --no-deps --no-build-isolation -e .
	touch $@

# Converting a checkpoint (torch, transformers, huggingface-hub): about 1 GB more.
$(VENV)/.convert: $(call lock_of,convert) $(VENV)/.runtime
	$(call torch,$(VENV))
	$(call step,the converter from $<)
	$(BIN)/pip install $(PIP_LOCKED) -r $<
	touch $@

# The tests and benchmarks: the converter, CTranslate2, MKL, pytest and ruff (about 2.9 GB in all).
$(VENV)/.dev: $(call lock_of,dev) $(VENV)/.runtime
	$(call torch,$(VENV))
	$(call step,the test and benchmark tools from $<)
	$(BIN)/pip install $(PIP_LOCKED) -r $<
	touch $@

# The real agent CLIs (Claude Code, Codex, gemini-cli) that tests/system/test_real_clients.py runs
# against fake model servers, at the versions tests/clients/package-lock.json pins (about
# 900 MB). Without npm those tests skip, saying why.
CLIENTS := tests/clients
clients: $(CLIENTS)/node_modules/.installed

$(CLIENTS)/node_modules/.installed: $(CLIENTS)/package.json $(CLIENTS)/package-lock.json
	@if ! command -v npm >/dev/null; then \
		echo "streamtts: no npm, so the real agent CLIs are not installed: Node.js 20 or newer with npm runs their tests"; \
	else echo "streamtts set-up: the real agent CLIs from $(CLIENTS)/package-lock.json" && \
		cd $(CLIENTS) && npm ci --no-audit --no-fund && touch node_modules/.installed; fi

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every group runs, whatever failed before it, and the last line says which failed.
TEST_GROUPS := lint test-main test-xtts
test: setup-dev
	@failed=""; for group in $(TEST_GROUPS); do \
		printf '\n== %s\n' $$group; \
		$(MAKE) --no-print-directory $$group || failed="$$failed $$group"; \
	done; \
	if [ -n "$$failed" ]; then echo "streamtts: test groups failed:$$failed"; exit 1; fi; \
	echo "streamtts: test groups passed: $(TEST_GROUPS)"

test-main: setup-dev clients
	$(BIN)/pytest -q

# The tier to run on every change: no test marked slow (pyproject.toml says what that means).
test-fast: setup-dev
	$(BIN)/pytest -q -m "not slow"

# XTTS v2 (coqui-tts) lives in its own environment. coqui-tts imports torchaudio and, with
# torch >= 2.9, insists that torchcodec is installed, but PyPI's Linux builds of both are
# CUDA builds (their libraries need libc10_cuda / libnvrtc) while we install the CPU torch.
# streamtts needs only torchaudio's pure-Python transforms and reads reference WAVs itself,
# never through torchcodec: so the CPU torch, the two without their dependencies
# (lock/xtts-linux.in; the lock installs with --no-deps anyway), and torchaudio's compiled
# ops (alignment, RNN-T loss) removed, which torchaudio then skips. On macOS the lock holds
# PyPI's matching builds and the rm finds nothing to remove.
XTTS_VENV ?= .venv-xtts
XTTS_BIN := $(XTTS_VENV)/bin

setup-xtts: sysdeps $(XTTS_VENV)/.installed

$(XTTS_BIN)/python:
	$(call new_venv,$(XTTS_VENV))

$(XTTS_VENV)/.installed: $(call lock_of,xtts) pyproject.toml | $(XTTS_BIN)/python
	$(call torch,$(XTTS_VENV))
	$(call step,XTTS v2 through coqui-tts from $<)
	$(XTTS_BIN)/pip install $(PIP_LOCKED) -r $<
	$(XTTS_BIN)/pip install --no-deps --no-build-isolation -e .
	rm -f $(XTTS_VENV)/lib/python3*/site-packages/torchaudio/lib/*.so
	touch $@

test-xtts: setup-xtts
	$(XTTS_BIN)/pytest -q tests/tts/test_xtts.py

# Speaks a bundled Claude Code transcript in Japanese with the runtime alone: the English one
# through NLLB when a converted model exists, else the one in which the agent answered in
# Japanese. No sound device: a WAV file instead.
DEMO_WAV ?= streamtts-demo.wav
demo: setup
	@examples=streamtts/examples; \
	model=$$($(BIN)/python -c 'from streamtts.translate.base import default_model_dir; print(default_model_dir())'); \
	if [ -f "$$model/manifest.json" ]; then set -- $$examples/claude-english.jsonl --translate nllb; \
	else echo "streamtts: no converted model at $$model, so the demo speaks the agent's Japanese answer (--translate auto); for the English one: make setup-convert && $(BIN)/streamtts convert (fetches 2.5 GB from the Hugging Face hub)"; \
		set -- $$examples/claude-japanese.jsonl --translate auto; fi; \
	if ! $(BIN)/python -c 'import sounddevice as sd; sd.query_devices(kind="output")' >/dev/null 2>&1; then \
		echo "streamtts: no sound device here, so the speech goes to $(CURDIR)/$(DEMO_WAV)"; set -- "$$@" --output $(DEMO_WAV); fi; \
	$(BIN)/streamtts speak "$$@" --print --stats

# Refreshes the locks on purpose: resolve the newest versions pyproject.toml allows, for
# both platforms, with uv (pinned here). The development lock is resolved first and every
# other group is held to its versions; the torch lock is its torch entry alone, installed
# first from TORCH_INDEX (uv writes no hashes with --no-deps). Afterwards run `make clean test` and read the diff.
UV_VERSION := 0.13.8
LOCK_VENV := .venv-lock
UV := $(LOCK_VENV)/bin/uv
COMPILE = $(UV) pip compile --quiet --generate-hashes --python-version 3.11 --no-header
LINUX := --python-platform x86_64-manylinux_2_35
MACOS := --python-platform aarch64-apple-darwin
DEV_EXTRAS := --extra convert --extra bench --extra dev --extra mkl
lock:
	@test -x $(UV) || { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install -q uv==$(UV_VERSION); }
	$(COMPILE) $(LINUX) $(TORCH_FROM) pyproject.toml lock/torch.in lock/build.in $(DEV_EXTRAS) -o lock/linux-x86_64-dev.txt
	awk '/^torch==/{on=1; print; next} on && /^[^ ]/{exit} on && /--hash/' lock/linux-x86_64-dev.txt > lock/linux-x86_64-torch.txt
	$(COMPILE) $(LINUX) -c lock/linux-x86_64-dev.txt pyproject.toml lock/build.in -o lock/linux-x86_64-runtime.txt
	$(COMPILE) $(LINUX) $(TORCH_FROM) -c lock/linux-x86_64-dev.txt pyproject.toml --extra convert -o lock/linux-x86_64-convert.txt
	$(COMPILE) $(LINUX) $(TORCH_FROM) pyproject.toml lock/xtts-linux.in --override lock/xtts-linux.overrides --extra xtts --extra dev -o lock/linux-x86_64-xtts.txt
	export MACOSX_DEPLOYMENT_TARGET=14.0; \
	$(COMPILE) $(MACOS) pyproject.toml lock/torch.in lock/build.in $(DEV_EXTRAS) -o lock/macos-arm64-dev.txt && \
	$(COMPILE) $(MACOS) -c lock/macos-arm64-dev.txt pyproject.toml lock/build.in -o lock/macos-arm64-runtime.txt && \
	$(COMPILE) $(MACOS) -c lock/macos-arm64-dev.txt pyproject.toml --extra convert -o lock/macos-arm64-convert.txt && \
	$(COMPILE) $(MACOS) pyproject.toml lock/xtts-macos.in --extra xtts --extra dev -o lock/macos-arm64-xtts.txt

clean:
	rm -rf $(VENV) $(XTTS_VENV) $(LOCK_VENV) build *.egg-info .pytest_cache .ruff_cache $(DEMO_WAV)
