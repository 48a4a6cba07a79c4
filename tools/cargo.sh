#!/bin/sh
# Runs cargo on the package's Rust workspace (src/rust) the same way for every caller: src/Makevars,
# `make test` and CI. The C/C++ compiler variables are cleared because the bundled DuckDB's build
# script reruns (about 30 minutes on 2 cores) whenever they differ from the previous build, and
# R CMD INSTALL and a shell would otherwise pass different ones. In that shared target directory,
# build the whole workspace (never one crate with -p): features of build-time dependencies change
# with the set of crates built, and that too reruns DuckDB's build. Which DuckDB is linked (the
# official prebuilt library or the bundled sources) is decided by tools/duckdb.sh, unless the
# caller passes its decision in DUCKDB_LIB_DIR (empty: bundled). Usage: tools/cargo.sh build --release
here=$(cd "$(dirname "$0")" && pwd)
export PATH="$PATH:$HOME/.cargo/bin"
if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
  cat >&2 <<'MSG'
------------------------------------------------------------------
doodles needs Rust (cargo and rustc >= 1.88) to build its core.
Install it with rustup (https://rustup.rs):
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh
then open a new shell and install doodles again.
------------------------------------------------------------------
MSG
  exit 1
fi
r_home=${R_HOME:-$(R RHOME)}
# R CMD INSTALL exports R_INCLUDE_DIR and extendr's build script reruns when it changes: set it
# the same way for every caller.
r_include=${R_INCLUDE_DIR:-$(R_HOME="$r_home" "$r_home/bin/Rscript" -e 'cat(R.home("include"))')}
subcommand=$1; shift
if [ -z "${DUCKDB_LIB_DIR+set}" ]; then
  DUCKDB_LIB_DIR=$(sh "$here/duckdb.sh") || exit 1
fi
if [ -n "$DUCKDB_LIB_DIR" ]; then
  # The crates' default feature compiles the bundled DuckDB; test binaries find the library at
  # run time through LD_LIBRARY_PATH (the R package links it with an rpath instead).
  set -- --no-default-features "$@"
  export DUCKDB_LIB_DIR LD_LIBRARY_PATH="$DUCKDB_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  unset DUCKDB_LIB_DIR
fi
exec env -u CC -u CXX -u CFLAGS -u CXXFLAGS -u CPPFLAGS -u LDFLAGS -u AR -u RUSTFLAGS \
  R_HOME="$r_home" R_INCLUDE_DIR="$r_include" cargo "$subcommand" --manifest-path="$here/../src/rust/Cargo.toml" "$@"
