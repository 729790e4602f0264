#!/usr/bin/env bash
# The mesayuda benchmark: builds the release binary, starts a private loopback mail server and
# measures ceiling, throughput, replies, latency, memory and start time on SQLite and PostgreSQL.
#
#   bench/run.sh [--no-build] [--db both|sqlite|postgres] [-n 1000] [--latency-n 200] [--keep] ...
#
# Results: a table on the terminal and bench/results/<timestamp>.json. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

build=yes
args=()
for a in "$@"; do
    case $a in
        --no-build) build=no ;;
        *) args+=("$a") ;;
    esac
done

if [[ $build == yes ]]; then
    echo "bench: cargo build --release" >&2
    cargo build --release --locked --quiet
fi
deploy/dev/mailserver.sh install
exec python3 bench/bench.py "${args[@]}"
