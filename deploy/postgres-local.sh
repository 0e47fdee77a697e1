#!/usr/bin/env bash
# Brings up AnomalyMeta's own PostgreSQL on 127.0.0.1 and prints its connection string on stdout.
# Idempotent: installs Debian's postgresql package only when absent, initialises a cluster once in a
# project-local, git-ignored folder, and reuses the server when it already runs. The machine's own
# PostgreSQL service (cluster "main", port 5432) is never touched.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
port=${ANOMALYMETA_PG_PORT:-54329}
data=${ANOMALYMETA_PG_DATA:-$root/.pgdata}
user=anomalymeta
password=anomalymeta
database=anomalymeta

log() { echo "postgres-local: $*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  log "installing Debian's postgresql package"
  as_root apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >&2
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

# PostgreSQL refuses to run as root: as root, the cluster belongs to the 'postgres' system user.
if [ "$(id -u)" -eq 0 ]; then
  owner=postgres
  as_owner() { runuser -u postgres -- "$@"; }
  # A checkout under a private folder (say /root) is out of the postgres user's reach: keep the cluster in a
  # folder of its own outside, one per checkout, rather than loosen the permissions of the user's folders.
  probe=$data
  while [ ! -e "$probe" ]; do probe=$(dirname "$probe"); done
  if [ -z "${ANOMALYMETA_PG_DATA:-}" ] && ! runuser -u postgres -- test -x "$probe"; then
    data=/var/lib/anomalymeta/$(printf '%s' "$root" | md5sum | cut -c1-12)/pgdata
    mkdir -p "$(dirname "$data")"
    log "$root is not reachable by the postgres user: the cluster lives in $data"
  fi
else
  owner=$(id -un)
  as_owner() { "$@"; }
fi

# Another checkout's server (or one left running) may already serve the port: reuse it when our role can log in,
# since two servers cannot share a port.
if ! as_owner "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1 && "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
  if PGPASSWORD=$password "$bin/psql" -h 127.0.0.1 -p "$port" -U "$user" -d postgres -v ON_ERROR_STOP=1 -qtA -c "select 1" >/dev/null 2>&1; then
    log "reusing the PostgreSQL server already listening on 127.0.0.1:$port"
    if [ "$(PGPASSWORD=$password "$bin/psql" -h 127.0.0.1 -p "$port" -U "$user" -d postgres -qtA -c "select 1 from pg_database where datname = '$database'")" != "1" ]; then
      PGPASSWORD=$password "$bin/psql" -h 127.0.0.1 -p "$port" -U "$user" -d postgres -v ON_ERROR_STOP=1 -qc "create database $database" >&2
    fi
    echo "Host=127.0.0.1;Port=$port;Username=$user;Password=$password;Database=$database"
    exit 0
  fi
  log "127.0.0.1:$port is taken by a server where role '$user' cannot log in: set ANOMALYMETA_PG_PORT to a free port"
  exit 1
fi

if [ ! -s "$data/PG_VERSION" ]; then
  log "initialising a cluster in $data"
  mkdir -p "$data"
  chown "$owner" "$data"
  chmod 700 "$data"
  as_owner "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >&2
  cat >> "$data/postgresql.conf" <<CONF
# AnomalyMeta local server
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
max_connections = 100
CONF
fi

if ! as_owner "$bin/pg_ctl" status -D "$data" >/dev/null 2>&1; then
  log "starting the server on 127.0.0.1:$port"
  as_owner "$bin/pg_ctl" start -D "$data" -w -t 60 -l "$data/server.log" >&2
fi

psql_admin() { as_owner "$bin/psql" -h "$data" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(psql_admin -c "select 1 from pg_roles where rolname = '$user'")" != "1" ]; then
  psql_admin -c "create role $user login superuser password '$password'" >&2
fi
if [ "$(psql_admin -c "select 1 from pg_database where datname = '$database'")" != "1" ]; then
  psql_admin -c "create database $database owner $user" >&2
fi

echo "Host=127.0.0.1;Port=$port;Username=$user;Password=$password;Database=$database"
