#!/usr/bin/env bash
# The chaos run (issue 16): faults in combination under mixed traffic, with invariants checked
# continuously and at the end. Its own command, not part of CI; as root on a test machine
# (it mounts a tmpfs, makes a network namespace, runs a private PostgreSQL cluster as the
# postgres user: the machine's own cluster is never restarted).
#
#   tests/chaos.sh [--minutes 30] [--db both|postgres|sqlite] [--rate 10] [--seed N]
#                  [--lease 1:4] [--faults KIND,KIND] [--release] [--keep]
#
# --minutes is per database (default 30 each); --lease is the daemons' [lease] renew_secs and
# expiry_secs; --faults keeps only those kinds (to study one); --release runs the release
# binary (built first) instead of the debug one.
# Prints, per database, a table: faults by kind with the time until the help desk answered a
# new request again (p50, max), one row per fault, requests lost, duplicates, ERROR lines.
# Exit code 1 when an invariant was broken. See tests/chaos.py and bench/README.md ("Chaos run").
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
args=()
for a in "$@"; do
    case $a in
        --release) profile=release ;;
        *) args+=("$a") ;;
    esac
done
if [[ $profile == release ]]; then
    cargo build --release --locked --quiet
else
    cargo build --locked --quiet
fi
deploy/dev/mailserver.sh install >/dev/null
command -v psql >/dev/null || { echo "chaos: psql is needed (apt install postgresql-client)" >&2; exit 1; }

run=(python3 tests/chaos.py --bin "${CARGO_TARGET_DIR:-target}/$profile/mesayuda" "${args[@]}")
# A network namespace of our own, so that delaying its loopback (tc) touches nothing else.
ns=mesayuda-chaos-$$
if ip netns add "$ns" 2>/dev/null; then
    trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
    ip netns exec "$ns" ip link set lo up
    MESAYUDA_CHAOS_NETNS=1 ip netns exec "$ns" "${run[@]}"
else
    echo "chaos: no network namespace (ip netns add failed): the loopback fault is left out" >&2
    "${run[@]}"
fi
