#!/usr/bin/env bash
# Installs what building and testing ClearLedger needs on a Debian machine:
# clang and libclang for the bundled RocksDB build, iproute2/iptables/procps and
# libfaketime (clock skew) and fuse3 (the lossy data directories of the
# lose-unsynced nemesis) for the fault-injection harness, python3 for the API
# reference check. Idempotent:
# installs only what is missing.
set -euo pipefail

needed=()
command -v clang >/dev/null 2>&1 || needed+=(clang)
ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so' || needed+=(libclang-dev)
command -v ip >/dev/null 2>&1 || needed+=(iproute2)
command -v iptables >/dev/null 2>&1 || needed+=(iptables)
command -v pkill >/dev/null 2>&1 || needed+=(procps)
dpkg -s libfaketime >/dev/null 2>&1 || needed+=(libfaketime)
command -v fusermount3 >/dev/null 2>&1 || needed+=(fuse3)
command -v python3 >/dev/null 2>&1 || needed+=(python3)

if [ ${#needed[@]} -gt 0 ]; then
  echo "setup: installing ${needed[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${needed[@]}" >/dev/null
fi

command -v cargo >/dev/null 2>&1 || { echo "setup: cargo is required (https://rustup.rs)" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy rustfmt >/dev/null 2>&1 || true
