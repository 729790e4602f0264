#!/usr/bin/env bash
# Runs every test on a fresh Debian machine as root: installs the loopback mail server's
# packages when missing, then the whole cargo test suite (unit tests, and integration tests
# that start their own Dovecot/Postfix, SQLite files and PostgreSQL databases).
# PostgreSQL is expected on 127.0.0.1:5432 (user postgres, trust auth); with CI=true its
# absence fails the run, elsewhere the PostgreSQL variants are skipped with a printed reason.
set -euo pipefail
cd "$(dirname "$0")/../.."

deploy/dev/mailserver.sh install
# Each test waits mostly on its own mail server and daemon, so four run at once even on 2 cores.
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-4}
cargo test --locked --all-targets "$@"
