# loyaltysim build/dev tasks. Requires GNU make and python3 (>= 3.10).

PYTHON ?= python3
VENV = .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo test test-all lint docs bench bench-largest results decisions reports-example fit-example validation fuzz differential clean

help:
	@echo "make install  - create $(VENV) and install loyaltysim with test extras (editable)"
	@echo "make demo     - run the Nordic retail scenario"
	@echo "make test     - the test suite on every core, without the slow statistical tests (all of them when CI=true)"
	@echo "make test-all - the whole test suite on every core, slow tests included (what CI runs)"
	@echo "make lint     - ruff check sim tests benchmarks"
	@echo "make docs     - the API reference from the docstrings into build/site (mkdocs, strict)"
	@echo "make bench    - the floor's rates (benchmarks/floor.py), start-up (benchmarks/startup.py), then benchmarks/run.py (10k, 100k, 1M members, 3 runs each)"
	@echo "make bench-largest - the same once each, plus 10M members (about 15 minutes, 8 GB)"
	@echo "make results  - regenerate the committed reference results of the shipped scenarios"
	@echo "make decisions - each shipped scenario's decision under its priors (results/*_draws)"
	@echo "make reports-example - the synthetic company's campaign report -> fit -> a decision (examples/reports)"
	@echo "make fit-example - simulate the synthetic company's log, fit it, decide under the fit (examples/fit)"
	@echo "make validation - run scenarios/validation/ against published experiments, write docs/validation.md"
	@echo "make fuzz     - 5,000 mutated scenarios through validate, 500 through a tiny run (about an hour)"
	@echo "make differential - the engines' differential test at 1,000 members (about 40 minutes)"
	@echo "make clean    - remove $(VENV), build artefacts and caches (keeps results/)"

install: $(STAMP)

# uv installs what pip would (each package at the newest version the pins allow: the same
# versions, checked) in about 10 s, where pip takes about 100 s.
$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[test]'
	touch $@

# Into build/ (ignored): the committed results/ are rewritten by `make results` only.
demo: $(STAMP)
	$(BIN)/loyaltysim run scenarios/nordic_retail.yaml --out build/demo

# On every core (pytest-xdist); each file's tests stay on one worker (--dist loadfile), so that
# module-scoped fixtures (the shared reference runs) are computed once. Files go to the workers in
# the order tests/conftest.py sets (the slowest first); xdist would otherwise order them by their
# number of tests and start the longest file last.
# The tests marked slow (the long statistical runs: the engines' differential test, the stylized
# facts, the direction tests, interval coverage) run in `make test-all` and in CI (CI=true), where
# `make test` runs them all; a local `make test` leaves them out to keep the edit-test loop short.
# One thread for the fit's compiled kernel (numba, OpenMP): each core already runs a worker, and
# OpenMP threads spin while they wait, taking the core from the other worker (a small fit beside a
# busy core: 13-14 s on two threads, 7.5-8.3 s on one).
PYTEST = NUMBA_NUM_THREADS=1 $(BIN)/python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder
test: $(STAMP)
	$(PYTEST) $(if $(filter true,$(CI)),,-m "not slow") tests

test-all: $(STAMP)
	$(PYTEST) tests

validation: $(STAMP)
	$(BIN)/python tests/validation_suite.py --out docs/validation.md

fuzz: $(STAMP)
	$(BIN)/python tests/fuzz_soak.py --validate 5000 --run 500 --seed $${SEED:-1}

differential: $(STAMP)
	LOYALTYSIM_DIFFERENTIAL_MEMBERS=1000 $(BIN)/python -m pytest -q tests/test_differential.py

lint: $(STAMP)
	$(BIN)/ruff check sim tests benchmarks docs/img

# The API reference (mkdocs.yml, docs/api/): strict, so that a broken cross-reference or a
# docstring mkdocstrings cannot render fails the build (tests/test_api_reference.py checks
# the same in CI).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/python benchmarks/floor.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/run.py --repeat 3

bench-largest: $(STAMP)
	$(BIN)/python benchmarks/run.py --largest

SHIPPED = $(filter-out scenarios/bench_%,$(wildcard scenarios/*.yaml))

results: $(STAMP)
	for f in $(SHIPPED); do \
		$(BIN)/loyaltysim run $$f --out results/$$(basename $$f .yaml) --overwrite --quiet || exit 1; \
	done

# Each shipped scenario's decision under its priors (docs/uncertainty.md), at reduced settings:
# the demo at 5,000 members, 64 draws x 2 replications; the others at 2,500, 32 draws x 1.
decisions: $(STAMP)
	$(BIN)/loyaltysim run scenarios/nordic_retail.yaml --draws 64 --replications 2 \
		--set population.size=5000 --out results/nordic_retail_draws --overwrite --quiet
	for f in $(filter-out scenarios/nordic_retail.yaml,$(SHIPPED)); do \
		$(BIN)/loyaltysim run $$f --draws 32 --set population.size=2500 \
			--out results/$$(basename $$f .yaml)_draws --overwrite --quiet || exit 1; \
	done

# The worked example of docs/fit.md: the synthetic company's engagement log (build/, not kept),
# the fit from it (examples/fit/fitted*), and the decision under the fit's posterior.
FIT_LOG = build/fit-example
# The campaign report of the synthetic company's first 13 weeks at 2,000 members (docs/reports.md).
REPORTS_LOG = build/reports-example
reports-example: $(STAMP)
	rm -rf $(REPORTS_LOG)
	$(BIN)/loyaltysim run examples/reports/company.yaml --set population.size=20000 \
		--replications 1 --events $(REPORTS_LOG)/events --out $(REPORTS_LOG)/results --quiet
	$(BIN)/python examples/reports/make_report.py $(REPORTS_LOG)/results $(REPORTS_LOG)/events
	$(BIN)/loyaltysim fit --reports examples/reports/campaigns.csv --tests examples/reports/test.csv \
		--scenario examples/reports/company.yaml --out examples/reports/fitted --overwrite
	$(BIN)/loyaltysim run examples/reports/decide.yaml --draws 32 \
		--out results/company_reports_decision_draws --overwrite

fit-example: $(STAMP)
	rm -rf $(FIT_LOG)
	$(BIN)/loyaltysim run examples/fit/company.yaml --events $(FIT_LOG)/events \
		--out $(FIT_LOG)/results --quiet
	$(BIN)/loyaltysim fit $(FIT_LOG)/events/plan/0 --scenario examples/fit/base.yaml \
		--out examples/fit/fitted.yaml --draws 256 --overwrite
	$(BIN)/loyaltysim run examples/fit/decide.yaml --draws 32 \
		--out results/company_decision_draws --overwrite

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .hypothesis
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
