#!/usr/bin/env bash
# Builds the Debian package with cargo-deb (metadata: [package.metadata.deb] in Cargo.toml) and
# prints the path of the .deb on its last line.
#
#   deploy/package.sh                       release build, target/debian/mesayuda_<version>_amd64.deb
#   deploy/package.sh --dev [OPTIONS]       packages the debug binary already built (tests/package.rs:
#                                           a release build costs 4 minutes on 2 cores, this a few s)
#   OPTIONS: --deb-version V (package version, e.g. to test an upgrade), --output DIR
#
# cargo-deb is installed from crates.io when missing, at the version tested here: it warns that
# packaging the dev profile (--dev) will become an error in a later version.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=false
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --dev) dev=true ;;
        --deb-version | --output) args+=("$1" "$2"); shift ;;
        *) echo "package.sh: opción desconocida: $1" >&2; exit 2 ;;
    esac
    shift
done

if ! command -v cargo-deb >/dev/null; then
    echo "package.sh: instalando cargo-deb (cargo install cargo-deb --locked --version 3.8.0)" >&2
    cargo install cargo-deb --locked --version 3.8.0 >&2
fi

if $dev; then
    # The asset path target/release/mesayuda maps to the profile's directory (target/debug).
    # Stripped: the debug build's symbols would make the package ten times larger.
    cargo deb --no-build --profile dev --fast "${args[@]}"
else
    cargo deb --locked "${args[@]}"
fi | tail -n 1
