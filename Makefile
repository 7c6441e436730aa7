# The two commands of the README: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-sqlite test-postgres bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run: set up, migrate the embedded SQLite database, start the Prefect server + UI, the API and every deployment
run: install
	$(BIN)/caseflow serve

## test: set up and run the whole suite (PostgreSQL tests run when a server is reachable, else skip)
test: install
	$(BIN)/python -m pytest

test-postgres: install
	$(BIN)/python -m pytest -m postgres

## bench: every bench/*.py (engine, intake, …) on SQLite and on PostgreSQL when reachable; figures in bench/RESULTS.md
bench: install
	@for f in bench/*.py; do \
		case $$f in */common.py|*/__init__.py) continue;; esac; \
		echo "== $$f"; $(BIN)/python $$f || exit 1; \
	done

clean:
	rm -rf $(VENV) data build *.egg-info
