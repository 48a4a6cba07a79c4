#!/bin/sh
# Fuzzes every parser that reads outside input (src/rust/fuzz): each target for SECONDS (default
# 600) in a process of its own, all at once. Inputs of a new kind of outcome are kept in
# src/rust/fuzz/corpus/<target>/, which `cargo test` replays. Exits non-zero when an input
# panicked or took over a second. Logs go to $FUZZ_LOGS (default: a new temporary folder); the
# seed to $FUZZ_SEED (default: the time). Usage: tools/fuzz.sh [seconds_per_target] [target...]
here=$(cd "$(dirname "$0")" && pwd)
seconds=${1:-600}
[ $# -gt 0 ] && shift
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/doodles/cargo-target}"
sh "$here/cargo.sh" build --release --workspace || exit 1
lib=$(sh "$here/duckdb.sh") || exit 1
[ -n "$lib" ] && export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fuzz="$CARGO_TARGET_DIR/release/doodles-fuzz"
targets=${*:-$("$fuzz" list)}
logs=${FUZZ_LOGS:-$(mktemp -d)}
mkdir -p "$logs"
seed=${FUZZ_SEED:-$(date +%s)}
pids=
for target in $targets; do
  nice -n 10 "$fuzz" "$target" --seconds "$seconds" --seed "$seed" \
    >"$logs/$target.out" 2>"$logs/$target.log" &
  pids="$pids $!"
done
status=0
for pid in $pids; do
  wait "$pid" || status=1
done
echo "seed $seed, logs in $logs"
for target in $targets; do cat "$logs/$target.out"; done
exit $status
