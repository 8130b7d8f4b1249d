#!/bin/sh
# Lists sync runs, newest first. Filters: organizationId, integrationId, status, trigger, operation, page, limit.
set -eu
USAGE='Usage: list-sync-runs.sh [KEY=VALUE ...]
Lists sync runs, newest first. Filters: organizationId, integrationId, status, trigger, operation, page, limit.
Reads API_URL (default http://localhost:3000) and API_KEY.
Example: list-sync-runs.sh integrationId=7 status=failed'
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
query=$(printf '%s&' "$@")
api GET "/api/sync/runs?${query%&}"
