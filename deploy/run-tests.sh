#!/usr/bin/env bash
# The whole test suite against real components: local PostgreSQL up, then every test project.
# Integration tests create a throwaway database each and drop it afterwards.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ConnectionStrings__Postgres=${ConnectionStrings__Postgres:-$("$root/deploy/postgres-local.sh")}
# Node.js and npm for the build, chromium for the dashboard's browser test: installed when missing.
"$root/deploy/build-prerequisites.sh" --browser
dotnet test "$root/AnomalyMeta.sln" -c Release --nologo "$@"
