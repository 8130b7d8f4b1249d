#!/bin/sh
# Lists API keys (never the keys themselves); --all includes revoked ones.
set -eu
USAGE='Usage: list-api-keys.sh [--all]
Lists API keys (never the keys themselves); --all includes revoked ones.
Reads API_URL (default http://localhost:3000) and API_KEY.
Example: list-api-keys.sh --all'
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
case "${1:-}" in --all) api GET '/api/api-keys?includeRevoked=true' ;; "") api GET /api/api-keys ;; *) die "$USAGE" ;; esac
