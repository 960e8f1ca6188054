# Two set-up commands, each working alone on a fresh machine with Python 3.11+:
#   make run    venv, install, migrate, then the demo (server + worker + shoppers) on SQLite
#   make test   venv, install with test extras, then the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test typecheck audit screenshots clean

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

# Known vulnerabilities in the installed dependencies, from PyPI's advisory data: it needs the
# network, so CI runs it (.ci/run) rather than `make test`, which works offline. A known
# vulnerability fails; dependencies the advisory data could not be read for are listed as NOT
# audited (a package index mirror without it audits nothing, and must not pass for clean).
audit: $(VENV)/.installed-test
	@mkdir -p build
	-$(BIN)/pip-audit --skip-editable --progress-spinner off --format json --output build/audit.json
	@$(BIN)/python -c "$$AUDIT_VERDICT" build/audit.json

define AUDIT_VERDICT
import json, sys
deps = json.load(open(sys.argv[1]))["dependencies"]
vulnerable = [f"{d['name']} {d['version']}: {v['id']}" for d in deps for v in d.get("vulns", [])]
skipped = [d["name"] for d in deps if "skip_reason" in d]
print(f"pip-audit: {len(deps) - len(skipped)} of {len(deps)} dependencies audited")
if skipped:
    print("NOT audited (no advisory data reachable): " + ", ".join(skipped))
sys.exit("known vulnerabilities:\n" + "\n".join(vulnerable) if vulnerable else 0)
endef
export AUDIT_VERDICT

# The README's screenshots, taken by the browser tests: widgets on the demo storefront, the
# review request email, the review form and the dashboard.
screenshots: $(VENV)/.installed-test
	PARCOURS_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q -p no:xdist \
		tests/test_widgets_storefront.py tests/test_review_sender.py tests/test_review_form_browser.py \
		tests/test_dashboard_browser.py -k "(screenshots or renders_in_a_browser) and not postgres"

clean:
	rm -rf $(VENV) build instance .pytest_cache .mypy_cache .ruff_cache
