# shellcheck shell=bash
# Helpers shared by scripts/setup, scripts/quickstart and scripts/test. Sourced, never run.

# The repository root (the parent of scripts/); used by the scripts that source this file.
# shellcheck disable=SC2034
TETHER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '%s: %s\n' "${TETHER_SCRIPT:-tether}" "$*" >&2; }
die() {
    log "$*"
    exit 1
}

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $* (run as root or install sudo)"
    fi
}

# rustup installs cargo into ~/.cargo/bin, which a non-login shell may not have on PATH.
cargo_on_path() {
    local bin="${CARGO_HOME:-$HOME/.cargo}/bin"
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$bin/cargo" ]; then
        PATH="$bin:$PATH"
        export PATH
    fi
}

# Go for scripts/install-ferretdb: the official tarball's /usr/local/go/bin (preinstalled on
# the project's machines), Debian's /usr/lib/go/bin, or ~/go/bin, when a non-login shell
# lacks it on PATH.
go_on_path() {
    local d
    for d in /usr/local/go/bin /usr/lib/go/bin "$HOME/go/bin"; do
        if ! command -v go >/dev/null 2>&1 && [ -x "$d/go" ]; then
            PATH="$d:$PATH"
            export PATH
        fi
    done
}
