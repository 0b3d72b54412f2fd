# One obvious command per habit. Each target installs what it needs (scripts/setup.sh).
.PHONY: run test lint bench faults setup schemas

run:            ## run the service on its embedded default (demo feeds, embedded broker)
	@scripts/setup.sh
	.venv/bin/wiremon run

test:           ## the whole test suite, as CI runs it
	@scripts/setup.sh --with-prometheus
	.venv/bin/python -m pytest -q

lint:           ## ruff + mypy
	@scripts/setup.sh
	.venv/bin/ruff check monitor tests bench
	.venv/bin/mypy monitor

bench:          ## every benchmark under bench/
	@scripts/setup.sh
	.venv/bin/python bench/bench_pipeline.py
	.venv/bin/python bench/bench_classify.py
	.venv/bin/python bench/bench_polls.py

faults:         ## the fault-injection tests only
	@scripts/setup.sh --with-prometheus
	.venv/bin/python -m pytest -q tests/faults

schemas:        ## regenerate schemas/ from the pydantic models
	@scripts/setup.sh
	.venv/bin/wiremon schemas --write schemas

setup:
	@scripts/setup.sh --with-prometheus
