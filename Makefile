# Two commands do all the set-up on a fresh machine:
#   make demo   - venv + install, then the annotator on the bundled sample (headless: CLI + PNG)
#   make test   - venv + install, then the whole test suite (GUI tests under Xvfb)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install demo test test-slow lint docs benchmark adaptation ui-freeze speed progress-cost label-free fetch-brain clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[testing]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m napari_limnet.demo

test: install
	$(PY) -m pytest -q -p no:cacheprovider

# the full crash (52 kill points), long-session (500 rounds), fuzz (2000 files) and session-fuzz (320 files) campaigns
test-slow: install
	$(PY) -m pytest -q -p no:cacheprovider --runslow tests/test_crash.py tests/test_long_session.py tests/test_fuzz_files.py tests/test_fuzz_sessions.py

lint: install
	$(VENV)/bin/ruff check src tests benchmarks scripts

# the documentation site (MkDocs + Material + mkdocstrings), strict: broken links and missing pages fail
docs: install
	$(PY) -m pip install -q -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -q

# real brain MRI training volumes (two pinned PyPI wheels) into .train_data/brain; CI never needs them
fetch-brain: install
	$(PY) ../shared/data/brain_train/fetch.py .train_data/brain

ALL_METHODS = limnet previous_stopping no_valley no_drift_gap drift_plateau no_leak_cut core_erase trim_spread no_weak_edge_look no_texture_edge no_small_look no_collapse_guard no_border_contrast mirror_border no_growth no_mrf box_r1 mask_r1 region_growing
benchmark: install
	$(PY) benchmarks/accuracy.py --methods $(ALL_METHODS) --out docs/benchmark
	$(PY) benchmarks/accuracy.py --no-dev --synthetic 0 --train-cases 40 --methods $(ALL_METHODS) --out docs/benchmark --name benchmark_train
	$(PY) scripts/update_readme_tables.py

# "annotate a volume": the recipe on the training volumes, then shipped vs adapted on dev (about 2 h on 2 cores)
adaptation: install
	$(PY) benchmarks/adaptation.py --train --k 3 --seconds 60 --modes true --variants default synthetic_25 user_half bn_train decoders all_axes intensity_full lr_1e-3 --max-scored 4 --out docs/adaptation --name recipe_train
	$(PY) benchmarks/adaptation.py --dev --k 1 3 --seconds 60 180 --modes true robot --out docs/adaptation --name adaptation_dev
	$(PY) benchmarks/adaptation.py --dev --k 3 --seconds 180 --modes true --guarded --out docs/adaptation --name adaptation_dev_guarded
	$(PY) benchmarks/adaptation_memory.py --out docs/adaptation

# longest UI-thread block per action, this code against an older revision (needs a display or Xvfb)
ui-freeze: install
	$(PY) benchmarks/ui_freeze.py --baseline $(or $(BASELINE),HEAD~1) --out docs/speed

# what showing a round's progress costs, under Xvfb (dock bar vs none vs napari's activity bar)
progress-cost: install
	xvfb-run -a $(PY) benchmarks/progress_cost.py --repeats 5 --out docs/speed

# annotate a volume with no object committed: shipped vs learned without clicks (about 1 h on 2 cores)
label-free: install
	$(PY) benchmarks/label_free.py --seeds 1 2 3 4 --out docs/adaptation

speed: install
	$(PY) -m pip install -q -e ".[benchmark]"
	$(PY) benchmarks/speed.py --out docs/speed

clean:
	rm -rf $(VENV) build dist demo_out bench_out site
