#!/bin/sh
# Decides which DuckDB the Rust core links, the one place every build asks (src/Makevars for
# R CMD INSTALL and devtools::install(), tools/cargo.sh for make test, cargo test and CI).
# Prints the directory holding the libduckdb.so to link, or nothing for the bundled source build,
# and says on stderr which path it took and why:
#   DUCKDB_LIB_DIR=<dir>     link the library the user names (<dir>/libduckdb.so);
#   DOODLES_DUCKDB=bundled   compile the DuckDB sources bundled with the duckdb crate;
#   otherwise                DuckDB's official prebuilt libduckdb.so, as published in the npm
#                            registry package @duckdb/node-bindings-<os>-<arch> (what DuckDB's
#                            own Node client loads), fetched with `npm pack`, checked against
#                            tools/duckdb-prebuilt.sha256 and cached in ~/.cache/doodles/duckdb.
# Without npm, the registry or a checksum for this platform, it falls back to the bundled build.
# A download that does not match its checksum is refused (exit status 1), never linked.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "doodles: $*" >&2; }
bundled_cost="about 40 minutes on 2 cores, once per CARGO_TARGET_DIR"

if [ -n "${DUCKDB_LIB_DIR:-}" ]; then
  if [ ! -e "$DUCKDB_LIB_DIR/libduckdb.so" ]; then
    say "DUCKDB_LIB_DIR=$DUCKDB_LIB_DIR holds no libduckdb.so"
    exit 1
  fi
  say "linking the DuckDB in DUCKDB_LIB_DIR=$DUCKDB_LIB_DIR"
  echo "$DUCKDB_LIB_DIR"
  exit 0
fi
if [ "${DOODLES_DUCKDB:-prebuilt}" = bundled ]; then
  say "DOODLES_DUCKDB=bundled: compiling the bundled DuckDB from source ($bundled_cost)"
  exit 0
fi
if [ "${DOODLES_DUCKDB:-prebuilt}" != prebuilt ]; then
  say "DOODLES_DUCKDB must be 'prebuilt' or 'bundled', not '$DOODLES_DUCKDB'"
  exit 1
fi

fallback() {
  say "$1: compiling the bundled DuckDB from source instead ($bundled_cost)"
  exit 0
}

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) platform=linux-x64 ;;
  Linux-aarch64 | Linux-arm64) platform=linux-arm64 ;;
  *) fallback "no prebuilt DuckDB is known for $(uname -s) $(uname -m)" ;;
esac
# Lines: platform, npm version, sha256 of the package tarball, sha256 of its libduckdb.so.
line=$(grep "^$platform " "$here/duckdb-prebuilt.sha256" || true)
[ -n "$line" ] || fallback "tools/duckdb-prebuilt.sha256 has no checksum for $platform"
set -- $line
version=$2 tarball_sum=$3 library_sum=$4
package="@duckdb/node-bindings-$platform@$version"
cache="${DOODLES_CACHE:-$HOME/.cache/doodles}/duckdb/$version-$platform"

sha256() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$cache/libduckdb.so" ] && [ "$(sha256 "$cache/libduckdb.so")" = "$library_sum" ]; then
  say "linking DuckDB's prebuilt library $package (cached in $cache)"
  echo "$cache"
  exit 0
fi
command -v npm >/dev/null 2>&1 || fallback "npm is not installed (apt-get install npm to use DuckDB's prebuilt library)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
say "fetching DuckDB's prebuilt library: npm pack $package (24 MB)"
if ! tarball=$(cd "$work" && npm pack --silent "$package" 2>"$work/npm.log"); then
  fallback "npm pack $package failed ($(tail -n 1 "$work/npm.log"))"
fi
actual=$(sha256 "$work/$tarball")
if [ "$actual" != "$tarball_sum" ]; then
  say "refusing $package: its sha256 is $actual, tools/duckdb-prebuilt.sha256 expects $tarball_sum (a damaged or altered download). Nothing was linked; retry, or set DOODLES_DUCKDB=bundled to compile DuckDB from source."
  exit 1
fi
tar -xzf "$work/$tarball" -C "$work" package/libduckdb.so
actual=$(sha256 "$work/package/libduckdb.so")
if [ "$actual" != "$library_sum" ]; then
  say "refusing the libduckdb.so of $package: its sha256 is $actual, expected $library_sum. Nothing was linked."
  exit 1
fi
mkdir -p "$cache"
# Moved into place last, so that an interrupted fetch never leaves a half-written cache.
mv "$work/package/libduckdb.so" "$cache/libduckdb.so.part"
mv "$cache/libduckdb.so.part" "$cache/libduckdb.so"
say "linking DuckDB's prebuilt library $package (now cached in $cache)"
echo "$cache"
