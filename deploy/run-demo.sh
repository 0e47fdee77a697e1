#!/usr/bin/env bash
# The main job end to end on generated data: local PostgreSQL up, Release build, `anomalymeta demo`.
# Extra arguments go to the demo (for example: --series 2000 --json demo.json).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ConnectionStrings__Postgres=${ConnectionStrings__Postgres:-$("$root/deploy/postgres-local.sh")}
# Node.js and npm for the build (the service vendors the dashboard's chart library from npm): installed when missing.
"$root/deploy/build-prerequisites.sh"
dotnet build "$root/src/AnomalyMeta.Cli" -c Release --nologo -v quiet
exec dotnet "$root/src/AnomalyMeta.Cli/bin/Release/net10.0/anomalymeta.dll" demo "$@"
