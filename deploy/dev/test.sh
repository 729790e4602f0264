#!/usr/bin/env bash
# Runs every test on a fresh Debian machine as root: installs the loopback mail server's
# packages when missing, then the whole cargo test suite (unit tests, and integration tests
# that start their own Dovecot/Postfix, SQLite files and PostgreSQL databases).
# PostgreSQL is expected on 127.0.0.1:5432 (user postgres, trust auth); with CI=true its
# absence fails the run, elsewhere the PostgreSQL variants are skipped with a printed reason.
set -euo pipefail
cd "$(dirname "$0")/../.."

deploy/dev/mailserver.sh install
# tests/production.rs checks deploy/mesayuda.service and deploy/mesayuda.sysusers with systemd's
# own tools (systemd-analyze verify, systemd-sysusers --root).
if ! command -v systemd-analyze >/dev/null || ! command -v systemd-sysusers >/dev/null; then
    echo "test.sh: installing systemd's tools with apt-get" >&2
    apt=(apt-get -q -y -o DPkg::Lock::Timeout=600 --no-install-recommends)
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install systemd >/dev/null 2>&1 ||
        { DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >/dev/null &&
          DEBIAN_FRONTEND=noninteractive "${apt[@]}" install systemd >/dev/null; }
fi
# Each test waits mostly on its own mail server and daemon, so four run at once even on 2 cores.
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-4}
cargo test --locked --all-targets "$@"
