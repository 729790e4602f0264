#!/usr/bin/env bash
# The mesayuda benchmark: builds the release binary, starts a private loopback mail server and
# measures ceiling, throughput, replies, latency, memory and start time on SQLite and PostgreSQL.
#
#   bench/run.sh [--no-build] [--db both|sqlite|postgres] [-n 1000] [--latency-n 200] [--keep]
#                [--prefill 100000,1000000] [--skip main,replies,latency,big]
#                [--soak [--soak-minutes 30] [--soak-rate 20]] ...
#
# Results: a table on the terminal and bench/results/<timestamp>.json. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

build=yes
targets=()
args=()
for a in "$@"; do
    case $a in
        --no-build) build=no ;;
        # The scaling runs fill their databases with the bench_prefill example.
        --prefill) targets=(--bin mesayuda --example bench_prefill); args+=("$a") ;;
        *) args+=("$a") ;;
    esac
done

if [[ $build == yes ]]; then
    echo "bench: cargo build --release" >&2
    cargo build --release --locked --quiet "${targets[@]}"
fi
deploy/dev/mailserver.sh install
exec python3 bench/bench.py "${args[@]}"
