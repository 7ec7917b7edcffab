# Two commands matter on a fresh clone:
#   make serve        set up .venv, pull the default model (scrfd_2.5g) if needed, serve on http://127.0.0.1:5001
#                     (MODEL=/path/to/model.onnx or MODEL=scrfd_10g picks another)
#   make test                                       set up .venv and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
MODEL ?= $(HAILO_SCRFD_MODEL)
SERVE_ARGS ?=
PYTEST_ARGS ?=

.PHONY: venv serve test install bench bench-env clean generate docs

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# MODEL is a file, or a known model name (hailo-scrfd models list), pulled into the cache first if needed.
serve: venv
	@model="$(or $(MODEL),scrfd_2.5g)"; \
	case "$$model" in */*|*.onnx|*.hef) ;; \
	  *) model=$$($(VENV)/bin/hailo-scrfd models pull "$$model") || exit $$?;; esac; \
	echo "serving $$model"; \
	exec $(VENV)/bin/hailo-scrfd serve --model "$$model" $(SERVE_ARGS)

test: venv
	$(VENV)/bin/ruff check hailo_scrfd tests bench scripts support
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The shipped YAML and the options of openapi.json are written from the declarations; a test checks them.
generate: venv
	$(VENV)/bin/python scripts/generate.py

# The docs site: installs the docs extra (mkdocs, mkdocs-material) into .venv once, then builds site/ in strict
# mode, so a broken link or anchor fails. Needs only pip's package registry; the build fetches nothing else.
$(VENV)/.docs-installed: $(VENV)/.installed pyproject.toml
	$(VENV)/bin/python -m pip install --quiet -e '.[docs]'
	touch $@

docs: $(VENV)/.docs-installed
	$(VENV)/bin/mkdocs build --strict --site-dir site

# The reference library (insightface) lives only in the benchmark's own venv, never in the project's.
.bench/venv/.installed:
	$(PYTHON) -m venv .bench/venv
	.bench/venv/bin/python -m pip install --quiet --upgrade pip
	.bench/venv/bin/python -m pip install --quiet insightface onnxruntime opencv-python-headless flask
	touch $@

bench-env: .bench/venv/.installed

bench: venv bench-env
	$(VENV)/bin/python bench/bench.py

# sudo make install, or make install DESTDIR=/tmp/stage
install:
	DESTDIR="$(DESTDIR)" scripts/install.sh

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info site
