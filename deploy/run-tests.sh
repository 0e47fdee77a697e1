#!/usr/bin/env bash
# The whole test suite against real components: local PostgreSQL up, then every test project.
# Integration tests create a throwaway database each and drop it afterwards.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ConnectionStrings__Postgres=${ConnectionStrings__Postgres:-$("$root/deploy/postgres-local.sh")}
dotnet test "$root/AnomalyMeta.sln" -c Release --nologo "$@"
