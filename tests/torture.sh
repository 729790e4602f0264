#!/usr/bin/env bash
# The long run of "nothing lost, nothing twice, no loops", as root on the test machine (the
# loopback mail server and PostgreSQL on 127.0.0.1:5432, as for deploy/dev/test.sh):
#   1. crash torture: 500 requests and replies, 20 SIGKILLs at random points of the work,
#      on SQLite and on PostgreSQL;
#   2. outages, including the PostgreSQL restart that the ordinary test run skips (it stops
#      the machine's cluster: do not run this while others use it);
#   3. mail loops.
# Prints the figures: kills survived, mail lost (always 0, or the run fails), duplicate
# acknowledgements, and each outage's log lines. Takes about 10 minutes.
#   MESAYUDA_TORTURE_REQUESTS, MESAYUDA_TORTURE_KILLS   override the sizes
#   MESAYUDA_TORTURE_SEED                                replays a run (its seed is printed)
set -euo pipefail
cd "$(dirname "$0")/.."

export MESAYUDA_TORTURE_REQUESTS=${MESAYUDA_TORTURE_REQUESTS:-500}
export MESAYUDA_TORTURE_KILLS=${MESAYUDA_TORTURE_KILLS:-20}
export MESAYUDA_TEST_PG_RESTART=1
export CI=${CI:-true}   # PostgreSQL is required: its variants fail instead of being skipped

deploy/dev/mailserver.sh install
log=$(mktemp /tmp/mesayuda-torture.XXXXXX)
status=0
for t in torture outages loops; do
    echo "== $t" >&2
    if ! cargo test --locked --test "$t" -- --nocapture --test-threads=2 >>"$log" 2>&1; then
        status=1
        grep -a -E "panicked|^test .*FAILED" "$log" >&2 || true
    fi
done
grep -a -E "^(torture on|TORTURE|OUTAGE|SIGTERM during|SKIPPED)|^test result" "$log" >&2 || true
echo "full output: $log" >&2
exit "$status"
