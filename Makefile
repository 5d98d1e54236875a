# Two commands a new user needs: `make run` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run demo test lint check bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "mailvault: could not create $(VENV): this Python lacks the venv module."; \
	  echo "On Debian: apt-get install python3-venv, then run make again."; exit 1; }
	@echo "mailvault: installing into $(VENV) (first run only; log in $(VENV)/install.log)"
	@$(BIN)/python -m pip install --disable-pip-version-check --upgrade pip >$(VENV)/install.log 2>&1 \
	  && $(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]' >>$(VENV)/install.log 2>&1 \
	  || { tail -n 30 $(VENV)/install.log; echo "mailvault: installation failed (see $(VENV)/install.log)"; exit 1; }
	@touch $(STAMP)

# The main job on the embedded default: a SQLite store in ./mailvault.db, example keys, demo mode;
# then the HTTP API on 127.0.0.1:8000 with one demo token per role (Ctrl-C stops it).
run: $(STAMP)
	@MAILVAULT_DEMO=1 $(BIN)/mailvault demo
	@MAILVAULT_DEMO=1 $(BIN)/mailvault serve --demo-principals --host 127.0.0.1 --port 8000

demo: run

# The whole suite. Warnings are errors; PostgreSQL tests run when MAILVAULT_TEST_POSTGRES_URL is set.
test: $(STAMP)
	$(BIN)/python -m pytest -W error

lint: $(STAMP)
	$(BIN)/ruff check vault tests bench migrations
	$(BIN)/ruff format --check vault tests bench migrations
	$(BIN)/mypy

check: lint test

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
