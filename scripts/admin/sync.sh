#!/bin/sh
# Starts a sync (full by default) and follows it to the end, with progress on stderr; exits 1 unless it succeeded (or partly: partial).
set -eu
USAGE='Usage: sync.sh INTEGRATION_ID [full|incremental]
Starts a sync (full by default) and follows it to the end, with progress on stderr; exits 1 unless it succeeded (or partly: partial).
Reads API_URL (default http://localhost:3000) and API_KEY.
Example: sync.sh 7 incremental'
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
[ $# -ge 1 ] || die "$USAGE"
mode=${2:-full}
case "$mode" in full | incremental) ;; *) die "$USAGE" ;; esac
started=$(api POST "/api/integrations/$1/sync?mode=$mode")
run=$(printf '%s' "$started" | field '.data.runId' runId)
[ -n "$run" ] || die "no run id in: $started"
while :; do
  current=$(api GET "/api/sync/runs/$run")
  status=$(printf '%s' "$current" | field '.data.status' status)
  pages=$(printf '%s' "$current" | field '.data.pages' pages)
  total=$(printf '%s' "$current" | field '.data.total' total)
  printf 'run %s: %s, %s pages, %s records\n' "$run" "$status" "$pages" "$total" >&2
  [ "$status" = running ] || break
  sleep "${POLL_SECONDS:-2}"
done
printf '%s\n' "$current"
case "$status" in succeeded | partial) exit 0 ;; *) exit 1 ;; esac
