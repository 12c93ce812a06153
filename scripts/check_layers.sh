#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Data flows one way: the core model and the exporters never see the
# collector or libbpf. Fails (listing the lines) if any file under
# exporters/ or userspace/core/ of ROOT (default: this checkout) includes a
# collect/ header, a libbpf header (<bpf/...>) or a BPF skeleton.
set -euo pipefail
root=${1:-"$(dirname "$0")/.."}
cd "$root"
dirs=()
for d in exporters userspace/core; do
  [ -d "$d" ] && dirs+=("$d")
done
[ ${#dirs[@]} -gt 0 ] || { echo "check_layers: no exporters/ or userspace/core/ in $root" >&2; exit 2; }
bad=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*([<"](\.\./)*(userspace/)?collect/|<bpf/|[<"][^">]*\.skel\.h)' \
  --include='*.cpp' --include='*.hpp' --include='*.h' --include='*.cc' "${dirs[@]}" || true)
if [ -n "$bad" ]; then
  echo "$bad" >&2
  echo "check_layers: core/ and exporters/ must not include collect/ or libbpf headers" >&2
  exit 1
fi
echo "check_layers: core and exporters are free of collect/ and libbpf"
