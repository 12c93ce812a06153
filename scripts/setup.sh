#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install what kernspan needs to build, test and benchmark, from Debian's
# packages. Idempotent: installs only what is missing. Run as root.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git dpkg-dev systemd man-db curl
  clang llvm bpftool libbpf-dev libelf-dev libdw-dev zlib1g-dev
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libcpp-httplib-dev
  libprotobuf-dev protobuf-compiler libyaml-dev
  googletest libgtest-dev libgmock-dev libbenchmark-dev
  systemtap-sdt-dev binutils procps iproute2 nftables time
  prometheus bpftrace libbpf-tools
  python3.11-minimal
  postgresql-15 postgresql-client-15
  clang-format clang-tidy
)
# Needed as commands, whatever package provides them (a machine may carry
# a Node.js build that bundles npm, which Debian's npm package conflicts with).
CMDS=(node:nodejs npm:npm)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

for c in "${CMDS[@]}"; do
  command -v "${c%%:*}" >/dev/null 2>&1 || missing+=("${c#*:}")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages: ${missing[*]}; run this script as root (sudo $0)" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The prometheus package enables a system service; tests start their own.
systemctl disable --now prometheus >/dev/null 2>&1 || true
