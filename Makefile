# Everything a fresh Debian machine with Python 3.11 needs, in one place.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# axe-core (npm) checks the till screen's accessibility in the browser tests; kept
# out of the repository, in the ignored .cache/.
AXE_VERSION := 4.14.1
AXE := .cache/npm/node_modules/axe-core/axe.min.js

.PHONY: demo test lint typecheck pytest clean bench debian-packages screenshots chaos

# Debian splits venv support into python3-venv; as root we add it when missing.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV) || { [ "$$(id -u)" = 0 ] && rm -rf $(VENV) \
		&& apt-get update -qq && apt-get install -y -qq python3-venv \
		&& $(PY) -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/onetill demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

# Debian packages for the real-store and browser tests (installed as root).
debian-packages:
	scripts/debian-packages.sh

$(AXE): | debian-packages
	npm install --prefix .cache/npm --no-save --no-audit --no-fund --no-package-lock \
		axe-core@$(AXE_VERSION)

pytest: $(STAMP) debian-packages $(AXE)
	$(BIN)/python -m pytest -q

# Re-take docs/screenshots/*.png (the browser tests save them when asked to).
screenshots: $(STAMP) debian-packages $(AXE)
	ONETILL_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/web -k browser

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) build src/*.egg-info

# The chaos suite's full run (about 10 minutes on 2 cores): faults, kills,
# path changes and hostile input against the sandbox; rewrites docs/reliability.md.
# ARGS='--minutes 3 --seed 42' (or --replay .cache/chaos/SEED/schedule.json).
chaos: $(STAMP)
	PYTHONPATH=tests $(BIN)/python -m chaos --report docs/reliability.md $(ARGS)
