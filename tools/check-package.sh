#!/usr/bin/env bash
# R CMD check of the package as R CMD build makes it, for `make check` (part of `make test`).
# Fails on an error or a warning. The tests are not run here: `make test` runs them once, with
# their totals last (tools/run-tests.R). Notes that stay, and why:
#   - "installed package size": the Rust core is one static library (DuckDB is linked
#     dynamically); its size is the rasterizer, DuckDB's Rust bindings and Arrow.
#   - "GNU make is a SystemRequirements": src/Makevars uses $(if ...) and $(wildcard ...) to find
#     the target directory and the prebuilt DuckDB, and says so in DESCRIPTION.
# The check directory is out/check (ignored by git and R CMD build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/out/check"
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"
R CMD build --no-manual "$root" > build.log 2>&1 || { cat build.log; exit 1; }
tarball=$(ls doodles_*.tar.gz)
# CRAN is not reachable here: the check does not ask it about Suggests.
export _R_CHECK_FORCE_SUGGESTS_=false _R_CHECK_CRAN_INCOMING_=false
# The vignette was rendered by R CMD build just now: its code runs once more, not twice.
R CMD check --no-manual --no-tests --no-build-vignettes "$tarball" > check.log 2>&1 || { cat check.log; exit 1; }
status=$(grep '^Status:' doodles.Rcheck/00check.log || true)
grep -E '(NOTE|WARNING|ERROR)$' doodles.Rcheck/00check.log || true
echo "R CMD check: ${status:-no status line}"
case "$status" in
  *ERROR*|*WARNING*|"") cat doodles.Rcheck/00check.log; exit 1 ;;
esac
