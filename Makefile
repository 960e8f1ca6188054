# Two set-up commands, each working alone on a fresh machine with Python 3.11+:
#   make run    venv, install, migrate, then the demo (server + worker + shoppers) on SQLite
#   make test   venv, install with test extras, then the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test typecheck screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e ".[postgres,redis]"
	touch $@

$(VENV)/.installed-test: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(VENV)/.installed $@

run: $(VENV)/.installed
	$(BIN)/parcours db upgrade
	$(BIN)/parcours demo

test: $(VENV)/.installed-test typecheck
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2  # two workers (pytest-xdist), each with its own databases

# mypy cannot follow an editable install of renamed folders: check an installed copy instead.
typecheck: $(VENV)/.installed-test
	rm -rf build/typecheck
	$(BIN)/pip install --quiet --no-deps --target build/typecheck .
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../setup.cfg -p parcours

# The README's screenshots, taken by the browser tests: widgets on the demo storefront, the
# review request email, the review form and the dashboard.
screenshots: $(VENV)/.installed-test
	PARCOURS_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q -p no:xdist \
		tests/test_widgets_storefront.py tests/test_review_sender.py tests/test_review_form_browser.py \
		tests/test_dashboard_browser.py -k "(screenshots or renders_in_a_browser) and not postgres"

clean:
	rm -rf $(VENV) build instance .pytest_cache .mypy_cache .ruff_cache
