# Two commands from a fresh clone: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed

.PHONY: demo test install bench clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (set PYTHON=...)" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml constraints.txt setup.py $(wildcard src/isometry/*/*.c src/isometry/*.h)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt torch
	$(PIP) install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/isometry demo --out demo-out

# Two pytest workers on two cores: one BLAS/OpenMP thread each, or they oversubscribe.
test: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -n 2 -q

bench: $(STAMP)
	@echo "Benchmarks are run one by one, e.g.: $(PY) benchmarks/bench_retrieval.py"

clean:
	rm -rf $(VENV) demo-out .pytest_cache
