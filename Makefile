# `make demo` and `make test` each build .venv on first use (pinned by constraints.txt).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean browser

# The report's browser test opens pages in headless Chromium (Debian's `chromium`); `make test`
# installs it when missing and requires it (LRLAB_REQUIRE_BROWSER=0 lets that test skip).
LRLAB_REQUIRE_BROWSER ?= 1

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lrlab sweep blobs --lrs 1,0.1,0.01,0.001 --epochs 200

browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -q && apt-get install -y -q --no-install-recommends chromium) || \
	  echo "could not install chromium; the browser test will fail (LRLAB_REQUIRE_BROWSER=0 skips it)"; \
	else \
	  echo "chromium is missing: run 'sudo apt-get install chromium', or make test LRLAB_REQUIRE_BROWSER=0 to skip the browser test"; \
	fi

test: $(STAMP) browser
	LRLAB_REQUIRE_BROWSER=$(LRLAB_REQUIRE_BROWSER) $(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python benchmarks/sweep_throughput.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
