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
# tests/panel.rs drives Debian's Chromium over WebDriver (an approver deciding on a phone).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "test.sh: installing chromium and chromium-driver with apt-get" >&2
    apt=(apt-get -q -y -o DPkg::Lock::Timeout=600 --no-install-recommends)
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install chromium chromium-driver >/dev/null 2>&1 ||
        { DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >/dev/null &&
          DEBIAN_FRONTEND=noninteractive "${apt[@]}" install chromium chromium-driver >/dev/null; }
fi
# tests/ldap_directory.rs runs its own OpenLDAP (Debian's slapd, on a test port with a private
# configuration; the package's own service is never started: policy-rc.d or no systemd).
if ! command -v slapd >/dev/null && [ ! -x /usr/sbin/slapd ]; then
    echo "test.sh: installing slapd and ldap-utils with apt-get" >&2
    apt=(apt-get -q -y -o DPkg::Lock::Timeout=600 --no-install-recommends)
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install slapd ldap-utils >/dev/null 2>&1 ||
        { DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >/dev/null &&
          DEBIAN_FRONTEND=noninteractive "${apt[@]}" install slapd ldap-utils >/dev/null; }
fi
# tests/package.rs builds the Debian package with cargo-deb from the debug binary (a few
# seconds; installing cargo-deb itself once costs about 2 minutes of compiling). The version is
# pinned: later ones announce that packaging the dev profile becomes an error.
if ! command -v cargo-deb >/dev/null; then
    echo "test.sh: installing cargo-deb with cargo install" >&2
    cargo install cargo-deb --locked --version 3.8.0
fi
# Each test waits mostly on its own mail server and daemon, so four run at once even on 2 cores.
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-4}
# Every target runs even when one fails (a flake must not hide the rest), and the failures are
# listed together at the end instead of scattered through thousands of lines.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --all-targets --no-fail-fast "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -ne 0 ]; then
    echo
    echo "test.sh: failing tests:"
    grep -E '^test .* \.\.\. FAILED$' "$log" | sed 's/^/  /' || true
    grep -E '^error: (test failed|[0-9]+ targets? failed)' -A20 "$log" | grep -E '^\s+`' | sed 's/^/  target/' || true
fi
exit "$rc"
