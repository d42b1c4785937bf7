# Set-up and routine commands (see README and docs/install.md). Every target that runs Python creates
# .venv first and installs vaekit into it (torch pinned through constraints.txt).
#   make install    .venv with vaekit and its test extras
#   make demo       the main job: trains a VAE on the built-in digits -> runs/demo/
#   make test       the default test suite (`pytest -q`: everything but the `slow` tests)
#   make test-slow  only the `slow` tests (the full model x likelihood x body product, compile vs eager)
#   make bench      the quick benchmarks, small settings, one torch thread (the full ones and their
#                   results: docs/benchmarks/): data load times, importance-sampling throughput and
#                   memory (K=1000, 8 examples), and the training loop against a bare PyTorch loop
#                   (MLP and conv, compile off, 8 short epochs per loop). It took 2 minutes (38 s of
#                   CPU time) on a 2-core CPU that other jobs shared; timings from a busy machine are
#                   a quick look, not figures.
#   make clean      remove .venv, runs/ and the pytest cache
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-slow bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/vaekit train --name demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python bench/data_load.py --repeats 3
	$(BIN)/python bench/eval_throughput.py --k 1000 --examples 8 --budgets 262144,2097152 --threads 1
	$(BIN)/python bench/train_throughput.py --compile off --repeats 8 --rounds 2 --images 1280 --threads 1

clean:
	rm -rf $(VENV) runs .pytest_cache
