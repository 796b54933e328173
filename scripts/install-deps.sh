#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine (run as root).
# Idempotent: does nothing when everything is present.
set -euo pipefail
need=()
command -v mstmcra >/dev/null 2>&1 || need+=(mstflint)
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
command -v strace >/dev/null 2>&1 || need+=(strace)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v make >/dev/null 2>&1 || need+=(make)
command -v lsmod >/dev/null 2>&1 || need+=(kmod)  # upstream mstfwreset (make test-upstream)
command -v setpci >/dev/null 2>&1 || need+=(pciutils)  # upstream mstfwreset reads ids with setpci
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing ${need[*]} and not root; install them and retry" >&2
        exit 1
    fi
    echo "install-deps: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >/dev/null 2>&1 || true
