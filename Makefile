# Two commands matter on a fresh clone:
#   make serve MODEL=/path/to/scrfd_2.5g_bnkps.onnx   set up .venv and serve on http://127.0.0.1:5001
#   make test                                       set up .venv and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
MODEL ?= $(HAILO_SCRFD_MODEL)
SERVE_ARGS ?=
PYTEST_ARGS ?=

.PHONY: venv serve test install bench bench-env clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

serve: venv
	@test -n "$(MODEL)" || { echo "give the model: make serve MODEL=/path/to/scrfd_2.5g_bnkps.onnx"; exit 2; }
	$(VENV)/bin/hailo-scrfd serve --model "$(MODEL)" $(SERVE_ARGS)

test: venv
	$(VENV)/bin/ruff check hailo_scrfd tests bench scripts support
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The reference library (insightface) lives only in the benchmark's own venv, never in the project's.
.bench/venv/.installed:
	$(PYTHON) -m venv .bench/venv
	.bench/venv/bin/python -m pip install --quiet --upgrade pip
	.bench/venv/bin/python -m pip install --quiet insightface onnxruntime opencv-python-headless
	touch $@

bench-env: .bench/venv/.installed

bench: venv bench-env
	$(VENV)/bin/python bench/bench.py

# sudo make install, or make install DESTDIR=/tmp/stage
install:
	DESTDIR="$(DESTDIR)" scripts/install.sh

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
