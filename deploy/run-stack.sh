#!/usr/bin/env bash
# docker-compose.yml's sequence on a machine without Docker: PostgreSQL, the migrations, two service replicas in Quartz
# clustered mode, then the one-shot demo loader, which feeds the replicas generated data through the HTTP API only
# (ingest, retrain now, rescore the last day). The replicas are stopped at the end unless --keep is given.
#
#   deploy/run-stack.sh [--series N] [--days D] [--keep] [any other load-demo option]
#
# Environment: ConnectionStrings__Postgres (default: the project's local PostgreSQL), ANOMALYMETA_STACK_PORT (first
# replica's port, default 8080; the second takes the next), ANOMALYMETA_STACK_BIN (a folder holding anomalymeta.dll and
# AnomalyMeta.Service.dll already built: skips the build), ANOMALYMETA_STACK_LOGS (the replicas' logs, default a temp
# folder), Training__Iterations and other service settings (passed through to the replicas).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ConnectionStrings__Postgres=${ConnectionStrings__Postgres:-$("$root/deploy/postgres-local.sh")}

keep=false
loader_args=()
for argument in "$@"; do
  if [ "$argument" = "--keep" ]; then keep=true; else loader_args+=("$argument"); fi
done

if [ -n "${ANOMALYMETA_STACK_BIN:-}" ]; then
  cli_bin=$ANOMALYMETA_STACK_BIN
  service_bin=$ANOMALYMETA_STACK_BIN
else
  "$root/deploy/build-prerequisites.sh"
  dotnet build "$root/src/AnomalyMeta.Cli" -c Release --nologo -v quiet
  cli_bin=$root/src/AnomalyMeta.Cli/bin/Release/net10.0
  # The service's own output holds its content root (the dashboard's wwwroot).
  service_bin=$root/src/AnomalyMeta.Service/bin/Release/net10.0
fi
cli() { dotnet "$cli_bin/anomalymeta.dll" "$@"; }

port=${ANOMALYMETA_STACK_PORT:-8080}
logs=${ANOMALYMETA_STACK_LOGS:-$(mktemp -d -t anomalymeta-stack.XXXXXX)}
mkdir -p "$logs"

# compose: migrate (one-shot, before the service)
cli migrate

# compose: service, 2 replicas sharing one schedule through Quartz's clustered job store. The morning cron is left to
# the replicas' settings (06:00 by default); the loader scores its day at once with a rescore.
pids=()
stop_replicas() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_replicas EXIT
for replica in 1 2; do
  (
    cd "$service_bin"
    ASPNETCORE_URLS="http://127.0.0.1:$((port + replica - 1))" \
    ASPNETCORE_CONTENTROOT="$service_bin" \
    Scheduling__InstanceId="stack-$replica" \
    Scoring__Shards="${Scoring__Shards:-4}" \
      exec dotnet "$service_bin/AnomalyMeta.Service.dll"
  ) >"$logs/replica-$replica.log" 2>&1 &
  pids+=("$!")
done
echo "run-stack: replicas on http://127.0.0.1:$port and :$((port + 1)); logs in $logs" >&2

# compose: loader (one-shot), through the first replica; the retrain and the run may execute on either.
cli load-demo --url "http://127.0.0.1:$port" "${loader_args[@]}"

if [ "$keep" = true ]; then
  trap - EXIT
  echo "run-stack: the replicas keep running (pids ${pids[*]}); the dashboard is at http://127.0.0.1:$port/" >&2
fi
