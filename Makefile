# The two commands of the README's quick start: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint install install-test system-deps bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Each install leaves a stamp in .venv and is done again only when the packaging changed
# since (the install is editable: a change to the code needs none), so a second `make run`
# starts at once.
INSTALLED      := $(VENV)/.installed
INSTALLED_TEST := $(VENV)/.installed-test
PACKAGING      := pyproject.toml

# Installs jcbot (editable) into .venv.
install: $(INSTALLED)

$(INSTALLED): $(PACKAGING) | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

# Installs jcbot with its test extras into .venv, and axe-core (pinned in tests/e2e/axe) for the
# accessibility browser test: npm ci once per lock file, nothing downloads when the tests run.
AXE := tests/e2e/axe/node_modules/axe-core/axe.min.js

install-test: $(INSTALLED_TEST) $(AXE)

# The test extras include jcbot itself: both stamps.
$(INSTALLED_TEST): $(PACKAGING) | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(INSTALLED)

$(AXE): tests/e2e/axe/package-lock.json
	cd tests/e2e/axe && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian packages the tests talk to (PostgreSQL, Dovecot, Chromium), when missing.
system-deps:
	bash scripts/install-system-deps

# Installs jcbot and starts its main job on the embedded defaults.
run: install
	$(BIN)/jcbot serve

# Installs everything the tests need, lints, and runs the whole suite.
test: system-deps install-test lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check jcbot tests bench

bench: install-test
	$(BIN)/python -m bench

# Thousands of generated emails through the reader, `jcbot mail parse` and the intake (README: Fuzzing).
fuzz: install-test
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest tests/unit/channels/email/test_fuzz_parse.py \
		tests/integration/email/test_email_hostile.py tests/integration/slack/test_slack_fuzz.py \
		tests/integration/slack/test_slack_socket_mode.py \
		-k "fuzz and not postgres" -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
