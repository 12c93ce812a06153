#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks of what kernspan ships besides the binary, each against the tool
# that consumes it (run by ctest; see tests/CMakeLists.txt):
#   check.sh rules                promtool check/test the Prometheus rules
#   check.sh dashboard BUILD      every dashboard query parses (promtool), and
#                                 every metric it names is served by a real run
#   check.sh kubernetes           the manifests against the API's schemas
#   check.sh man BUILD            the man page documents every option of --help
#   check.sh install BUILD        cmake --install, an outside app built with
#                                 pkg-config and with find_package, traced by
#                                 the installed kernspan; the systemd unit
#                                 verified against the installed binary
#   check.sh deb                  a packager's build (None, dpkg-buildflags,
#                                 prefix /usr) and cpack -G DEB: Debian
#                                 dependencies, dpkg accepts it here
#                                 (--dry-run), the packaged binary traces
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
what=${1:?usage: check.sh rules|dashboard|kubernetes|man|install|deb [BUILD]}
BUILD=$(readlink -f "${2:-$SRC/build}")
T=$(mktemp -d /tmp/ks-deploy.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "check.sh $what: FAIL: $*" >&2
  exit 1
}

# Runs $1 (a kernspan binary) on the outside app built as $2 and checks that
# it saw exactly 1000 spans named "outside".
trace_outside_app() {
  local ks=$1 app=$2 log=$T/trace.log
  "$app" 1000 &
  local apid=$!
  pids+=("$apid")
  # Attach once the child runs the app, not while bash is still exec'ing it.
  for _ in $(seq 100); do
    [ "$(readlink "/proc/$apid/exe" 2>/dev/null)" = "$(readlink -f "$app")" ] && break
    sleep 0.01
  done
  "$ks" trace -p "$apid" -q -d 20 >"$log" 2>&1 || fail "$ks trace failed: $(tail -3 "$log")"
  wait "$apid" || fail "the outside app exited $? (3: no tracer came)"
  grep -Eq '^outside +1000 ' "$log" || fail "expected 1000 spans named outside: $(cat "$log")"
  grep -q '^spans: 1000 total' "$log" || fail "expected 1000 spans: $(cat "$log")"
}

case $what in
rules)
  promtool check rules "$SRC/deploy/prometheus/kernspan-rules.yml"
  (cd "$SRC/deploy/prometheus" && promtool test rules kernspan-rules.test.yml)
  ;;
dashboard)
  # Every query, with Grafana's variables given values, as a recording rule.
  python3 - "$SRC/deploy/grafana/kernspan.json" "$T/queries.yml" "$T/metrics.txt" <<'PY'
import json, re, sys
d = json.load(open(sys.argv[1]))
exprs = []
def walk(panels):
    for p in panels:
        walk(p.get("panels", []))
        for t in p.get("targets", []):
            if "expr" in t:
                exprs.append(t["expr"])
walk(d["panels"])
for v in d["templating"]["list"]:
    q = v.get("query")
    if isinstance(q, dict):
        m = re.fullmatch(r"label_values\((.*), *\w+\)", q["query"])
        if m and m.group(1).strip():
            exprs.append(m.group(1))
assert len(exprs) >= 15, f"only {len(exprs)} queries found"
subst = {"$__rate_interval": "5m", "$__interval": "1m", "$service": ".*", "$span": ".*"}
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        for k, v in subst.items():
            e = e.replace(k, v)
        assert "$" not in e, f"unknown variable in {e}"
        f.write(f"      - record: dashboard:query{i}\n        expr: {json.dumps(e)}\n")
names = set()
for e in exprs:
    names.update(re.findall(r"\bkernspan_[a-z0-9_]+", e))
with open(sys.argv[3], "w") as f:
    f.write("\n".join(sorted(names)) + "\n")
PY
  promtool check rules "$T/queries.yml"
  # A real run: the bundled example under kernspan with costs and
  # --prometheus; each metric the dashboard names must be served.
  "$BUILD/examples/demo_service" --requests 0 --rate 300 --threads 2 >/dev/null &
  dpid=$!
  pids+=("$dpid")
  "$BUILD/kernspan" trace -p "$dpid" -q -d 30 --prometheus 127.0.0.1:0 -o /dev/null \
    >"$T/ks.out" 2>"$T/ks.err" &
  pids+=("$!")
  port=
  for _ in $(seq 100); do
    port=$(grep -o 'http://127.0.0.1:[0-9]*' "$T/ks.err" | head -1 | sed 's/.*://') || true
    [ -n "$port" ] && grep -q attached "$T/ks.err" && break
    sleep 0.1
  done
  [ -n "$port" ] || fail "kernspan did not start: $(cat "$T/ks.err")"
  sleep 3
  curl -sf "http://127.0.0.1:$port/metrics" >"$T/scrape.txt" || fail "scrape failed"
  missing=0
  while read -r m; do
    base=$(echo "$m" | sed -E 's/_(bucket|count|sum)$//')
    if ! grep -Eq "^# TYPE ($m|$base) " "$T/scrape.txt"; then
      echo "dashboard names $m, which kernspan did not serve" >&2
      missing=$((missing + 1))
    fi
  done <"$T/metrics.txt"
  [ "$missing" -eq 0 ] || fail "$missing metric(s) of the dashboard not served"
  echo "dashboard: $(wc -l <"$T/metrics.txt") metrics named, all served; queries parse"
  ;;
kubernetes)
  node "$SRC/tests/checks/k8s_validate.js" "$SRC/deploy/kubernetes/kernspan.yaml" \
    "$SRC/deploy/kubernetes/podmonitor.yaml"
  ;;
man)
  man_opts=$(sed -n 's/.*\\-\\-\([a-z][a-z0-9-]*\).*/\1/p; s/.*\\-\\-\([a-z][a-z0-9-]*\).*/\1/p' \
    "$SRC/docs/kernspan.1" | sort -u)
  missing=0
  for cmd in "" trace top list serve check-config syscalls; do
    # shellcheck disable=SC2086
    for o in $("$BUILD/kernspan" $cmd --help | grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
      if ! grep -q -- "$(echo "$o" | sed 's/-/\\\\-/g')" "$SRC/docs/kernspan.1"; then
        echo "kernspan $cmd $o is not in docs/kernspan.1" >&2
        missing=$((missing + 1))
      fi
    done
  done
  [ "$missing" -eq 0 ] || fail "$missing option(s) undocumented in the man page"
  man -l "$SRC/docs/kernspan.1" >/dev/null 2>"$T/man.err" || fail "man: $(cat "$T/man.err")"
  [ ! -s "$T/man.err" ] || fail "man warns: $(cat "$T/man.err")"
  echo "man: every option of every command documented"
  ;;
install)
  P=$T/prefix
  cmake --install "$BUILD" --prefix "$P" >"$T/install.log"
  for f in bin/kernspan lib/kernspan/libkernspan-net.so include/kernspan/kernspan.h \
    share/pkgconfig/kernspan.pc share/cmake/kernspan/kernspan-config.cmake \
    share/man/man1/kernspan.1.gz share/bash-completion/completions/kernspan \
    lib/systemd/system/kernspan.service etc/kernspan/kernspan.yaml share/doc/kernspan/README.md; do
    [ -e "$P/$f" ] || fail "cmake --install did not put $f in place"
  done
  # pkg-config
  cflags=$(PKG_CONFIG_PATH=$P/share/pkgconfig pkg-config --cflags kernspan | sed 's/ *$//')
  [ "$(readlink -f "${cflags#-I}")" = "$P/include" ] ||
    fail "pkg-config --cflags kernspan gave '$cflags'"
  # shellcheck disable=SC2086
  cc $cflags -O2 -Wall -Werror -o "$T/app_pc" "$SRC/tests/deploy/app/app.c"
  # find_package
  cmake -S "$SRC/tests/deploy/app" -B "$T/app_build" -DCMAKE_PREFIX_PATH="$P" >"$T/app_cmake.log" ||
    fail "find_package(kernspan): $(tail -5 "$T/app_cmake.log")"
  cmake --build "$T/app_build" >/dev/null
  trace_outside_app "$P/bin/kernspan" "$T/app_pc"
  trace_outside_app "$P/bin/kernspan" "$T/app_build/outside_app"
  # The installed binary finds its network module (lib/kernspan).
  "$P/bin/kernspan" trace --binary "$T/app_pc" -d 0.5 -q --prometheus 127.0.0.1:0 \
    >/dev/null 2>"$T/prom.err" || fail "installed kernspan --prometheus: $(cat "$T/prom.err")"
  grep -q 'serving metrics' "$T/prom.err" || fail "no metrics served: $(cat "$T/prom.err")"
  # The unit, against the installed binary and config.
  sed -e "s#/usr/bin/kernspan#$P/bin/kernspan#; s#/etc/kernspan#$P/etc/kernspan#" \
    "$P/lib/systemd/system/kernspan.service" >"$T/kernspan.service"
  systemd-analyze verify --man=no "$T/kernspan.service" 2>&1 | tee "$T/verify.log"
  [ ! -s "$T/verify.log" ] || fail "systemd-analyze verify complained"
  "$P/bin/kernspan" check-config "$P/etc/kernspan/kernspan.yaml" >/dev/null 2>&1 ||
    [ $? -eq 1 ] || fail "check-config crashed on the shipped example"
  bash -n "$P/share/bash-completion/completions/kernspan"
  echo "install: header via pkg-config and find_package, traced by the installed binary; unit verified"
  ;;
deb)
  # As a Debian packager builds: prefix /usr, build type None with the
  # distribution's flags (dpkg-buildflags), no -Werror; only what ships.
  B=$T/debbuild
  eval "$(dpkg-buildflags --export=sh)" # CFLAGS, CXXFLAGS, LDFLAGS... for cmake
  cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=None -DCMAKE_INSTALL_PREFIX=/usr \
    -DKERNSPAN_BUILD_BENCH=OFF -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON >"$T/cmake.log" || fail "configure: $(tail -5 "$T/cmake.log")"
  cmake --build "$B" -j"$(nproc)" --target kernspan kernspan-net kernspan-man >"$T/build.log" 2>&1 ||
    fail "build with dpkg-buildflags: $(grep -m5 -i error "$T/build.log")"
  (cd "$B" && cpack -G DEB -B "$T/deb" >"$T/cpack.log" 2>&1) || fail "cpack: $(tail -5 "$T/cpack.log")"
  deb=$(ls "$T"/deb/kernspan_*.deb)
  depends=$(dpkg-deb -f "$deb" Depends)
  for lib in libbpf1 libelf1 libc6 libstdc++6; do
    echo "$depends" | grep -q "\b$lib\b" || fail "Depends lacks $lib: $depends"
  done
  dpkg --dry-run -i "$deb" >"$T/dpkg.log" 2>&1 || fail "dpkg refuses the package: $(cat "$T/dpkg.log")"
  dpkg-deb -c "$deb" >"$T/contents.txt" # listed once: grep -q would cut the pipe
  for f in ./usr/bin/kernspan ./usr/lib/kernspan/libkernspan-net.so ./etc/kernspan/kernspan.yaml \
    ./usr/include/kernspan/kernspan.h ./usr/share/man/man1/kernspan.1.gz \
    ./usr/lib/systemd/system/kernspan.service ./usr/share/pkgconfig/kernspan.pc; do
    grep -q " $f\$" "$T/contents.txt" || fail "$f is not in the package"
  done
  dpkg-deb -x "$deb" "$T/root"
  cc -I"$T/root/usr/include" -O2 -o "$T/app_deb" "$SRC/tests/deploy/app/app.c"
  trace_outside_app "$T/root/usr/bin/kernspan" "$T/app_deb"
  echo "deb: $(basename "$deb"), Depends: $depends"
  ;;
*)
  fail "unknown check"
  ;;
esac
