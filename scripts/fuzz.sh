#!/bin/sh
# Runs the cargo-fuzz targets (fuzz/): scripts/fuzz.sh [target|all] [seconds per target]
#   targets: frame event_json req segment app_msg (default: all, 60 s each)
# Installs cargo-fuzz from crates.io if missing. cargo fuzz needs nightly compiler flags: it
# uses a rustup `nightly` toolchain when there is one, else the stable one with
# RUSTC_BOOTSTRAP=1. New inputs go to fuzz/work/<target> (not committed); the committed seeds
# in fuzz/corpus/<target> are read too. A crash or failed invariant stops the run and leaves
# its input in fuzz/artifacts/<target>/: fix it, then copy the input into fuzz/corpus/<target>/
# so that `cargo test --test fuzz_corpus` replays it for ever.
set -eu
cd "$(dirname "$0")/.."
all="frame event_json req segment app_msg"
which=${1:-all}
secs=${2:-60}
[ "$which" = all ] && which=$all
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
if rustup run nightly rustc --version >/dev/null 2>&1; then
    toolchain=+nightly
else
    toolchain=
    export RUSTC_BOOTSTRAP=1
fi
for t in $which; do
    case " $all " in *" $t "*) ;; *) echo "unknown target $t (one of: $all)" >&2; exit 2 ;; esac
    max_len=8192
    [ "$t" = segment ] && max_len=65536
    mkdir -p "fuzz/work/$t"
    echo "== fuzzing $t for $secs s"
    # shellcheck disable=SC2086 # $toolchain is empty or one word
    nice -n 10 cargo $toolchain fuzz run --fuzz-dir fuzz "$t" "fuzz/work/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -max_len="$max_len" -print_final_stats=1
done
