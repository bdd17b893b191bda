#!/bin/sh
# fuzz.sh: runs the libFuzzer harnesses that `make fuzz` built (fuzz/*.c).
# For each NAME, first every input kept in fuzz/regressions/NAME/, once
# (what was found and fixed stays fixed), then SECONDS of fuzzing that
# starts from the seed corpus fuzz/corpus/NAME/ (and fuzz/NAME.dict when
# there is one) and grows a working corpus in build/fuzz/corpus/NAME/,
# kept between runs but not in the repository.
#
# Prints one line per harness with libFuzzer's last figures (cov: edges
# reached, ft: features, the working corpus); stops at the first failure,
# showing the end of libFuzzer's report. A failing input is left in
# build/fuzz/crashes/NAME/ (copy it into fuzz/regressions/NAME/ once
# fixed), the whole output in build/fuzz/NAME.log.
#   scripts/fuzz.sh BIN SECONDS NAME...
set -eu
cd "$(dirname "$0")/.."
bin=$1
seconds=$2
shift 2

#  One input larger than this is a bug whatever the harness: the decoders
#  have limits of their own far below it
malloc_limit_mb=512

s_failed () {
    echo "fuzz $1: $2 (build/fuzz/$1.log):" >&2
    tail -n 40 "build/fuzz/$1.log" >&2
    exit 1
}

#  The last "#N DONE cov: ... ft: ... corp: ..." line, shortened
s_figures () {
    grep -E '^#[0-9]+.*cov: ' "$1" | tail -n 1 | awk '{
        for (i = 1; i < NF; i++) figure [$i] = $(i + 1)
        sub ("#", "", $1)
        printf "%s runs, cov %s, ft %s, corpus %s, %s exec/s", $1, figure ["cov:"],
               figure ["ft:"], figure ["corp:"], figure ["exec/s:"]
    }'
}

#  Runs each kept input of harness $1 once (inputs named one by one are
#  run once each, then libFuzzer exits); sets kept to how many there were
s_replay () {
    name=$1
    set --
    for input in "fuzz/regressions/$name"/*; do
        if [ -f "$input" ]; then set -- "$@" "$input"; fi
    done
    if [ $# -gt 0 ] && ! "$bin/fuzz-$name" "$@" >"build/fuzz/$name.log" 2>&1; then
        s_failed "$name" "a kept regression fails again"
    fi
    kept=$#
}

#  Fuzzes harness $1 for $seconds from its seeds and working corpus
s_fuzz () {
    name=$1
    set -- -max_total_time="$seconds" -timeout=10 -malloc_limit_mb=$malloc_limit_mb \
        -print_final_stats=1 -artifact_prefix="build/fuzz/crashes/$name/"
    if [ -f "fuzz/$name.dict" ]; then set -- "$@" -dict="fuzz/$name.dict"; fi
    if ! "$bin/fuzz-$name" "$@" "build/fuzz/corpus/$name" "fuzz/corpus/$name" \
            >"build/fuzz/$name.log" 2>&1; then
        s_failed "$name" "found a failure"
    fi
}

for name in "$@"; do
    mkdir -p "build/fuzz/corpus/$name" "build/fuzz/crashes/$name"
    s_replay "$name"
    s_fuzz "$name"
    echo "fuzz $name: $kept kept inputs replayed, then $seconds s: $(s_figures "build/fuzz/$name.log")"
done
