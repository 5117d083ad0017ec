# Two commands for a fresh Debian/Ubuntu machine with Python 3.11+ (needs `make` and `python3-venv`):
#   make run    create the environment, install, migrate and run the bot
#   make test   create the environment and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: run test shell lint clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,postgres]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/monev run

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n $$(( $$(nproc) * 3 ))

shell: $(STAMP)
	$(VENV)/bin/monev shell --as admin

clean:
	rm -rf $(VENV) .pytest_cache

# The benchmarks (bench/README.md) from the project's own environment: the test extra holds what they import.
bench: $(STAMP)
	$(VENV)/bin/python -m bench.inbound
	$(VENV)/bin/python -m bench.broadcast
	$(VENV)/bin/python -m bench.intake
	$(VENV)/bin/python -m bench.recap
