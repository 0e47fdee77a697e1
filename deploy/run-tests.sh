#!/usr/bin/env bash
# The whole test suite against real components: local PostgreSQL up, then every test project.
# Integration tests create a throwaway database each and drop it afterwards.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ConnectionStrings__Postgres=${ConnectionStrings__Postgres:-$("$root/deploy/postgres-local.sh")}
# The dashboard's browser test drives Debian's chromium (Playwright's own browser download cannot work here).
if [ ! -x /usr/bin/chromium ]; then
  echo "run-tests: installing Debian's chromium" >&2
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo=sudo; fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2
fi
dotnet test "$root/AnomalyMeta.sln" -c Release --nologo "$@"
