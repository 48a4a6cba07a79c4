# Entry points for a fresh Debian machine. `make demo` runs the main job on the data shipped with
# the package; `make test` runs every test (cargo's and testthat's). Both install what is missing.
# One persistent cargo target directory is shared by every build (the bundled DuckDB is compiled
# once per machine, ~30 minutes on 2 cores).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/doodles/cargo-target
export TZ ?= UTC
export DOODLES_THREADS ?= 2

.PHONY: setup install test test-rust test-r lint check demo wrappers fuzz

setup:
	bash tools/setup.sh

install: setup
	R CMD INSTALL --no-multiarch .

test-rust: setup
	sh tools/cargo.sh test --release --workspace

test-r: install
	Rscript tools/run-tests.R

# rustfmt and clippy (warnings are errors) on the whole workspace, through tools/cargo.sh so that
# clippy builds with the same DuckDB decision and target directory as the tests.
lint: setup
	cd src/rust && PATH="$$PATH:$$HOME/.cargo/bin" cargo fmt --all --check
	sh tools/cargo.sh clippy --release --workspace --all-targets -- -D warnings

# R CMD check of the built package: errors and warnings fail; the notes that stay are listed in
# tools/check-package.sh. The tests are left to test-r (run once, not twice).
check: setup
	bash tools/check-package.sh

# The R tests' totals come last: CI reads that line.
test: setup test-rust lint check test-r

demo: install
	Rscript inst/job/demo.R

# Fuzzes the parsers of outside input (drawing JSON, CSV, ndjson, zip), every target at once for
# FUZZ_SECONDS each (tools/fuzz.sh). Too long for `make test`, which replays the inputs it kept.
FUZZ_SECONDS ?= 600
fuzz: setup
	sh tools/fuzz.sh $(FUZZ_SECONDS)

# Regenerates R/extendr-wrappers.R from the compiled library (after adding a Rust export).
wrappers: install
	Rscript tools/update-wrappers.R
