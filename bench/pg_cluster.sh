# SPDX-License-Identifier: Apache-2.0
# Sourced by the PostgreSQL benchmarks (run_pg.sh, run_pg_progs.sh): a
# throw-away PostgreSQL 15 cluster on a unix socket (no TCP), initialized
# for pgbench at scale $SCALE, removed on exit. Sets PGBIN, PG and D (the
# cluster's folder, its socket there); as_pg runs a command as postgres.
# `pg_cluster_on_exit CMD` adds a command to run on exit before the cluster
# stops.
PGBIN=/usr/lib/postgresql/15/bin
PG=$PGBIN/postgres
if [ ! -x "$PG" ] || ! command -v pgbench >/dev/null; then
  echo "bench: installing PostgreSQL 15" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    postgresql-15 postgresql-client-15 >/dev/null
  systemctl disable --now postgresql >/dev/null 2>&1 || true
fi
D=$(mktemp -d /tmp/ks-pg.XXXXXX)
chown postgres: "$D"
as_pg() { runuser -u postgres -- "$@"; }
_pg_on_exit=()
pg_cluster_on_exit() { _pg_on_exit+=("$*"); }
_pg_cluster_cleanup() {
  for c in "${_pg_on_exit[@]}"; do eval "$c" || true; done
  as_pg "$PGBIN/pg_ctl" -D "$D/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap _pg_cluster_cleanup EXIT
as_pg "$PGBIN/initdb" -D "$D/data" -A trust >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$D/data" -l "$D/log" -w \
  -o "-k $D -c listen_addresses='' -c max_connections=20 -c shared_buffers=256MB" start >/dev/null
as_pg pgbench -h "$D" -i -s "$SCALE" -q postgres >/dev/null 2>&1
