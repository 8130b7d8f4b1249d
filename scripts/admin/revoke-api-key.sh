#!/bin/sh
# Revokes an API key.
set -eu
USAGE='Usage: revoke-api-key.sh ID
Revokes an API key.
Reads API_URL (default http://localhost:3000) and API_KEY.
Example: revoke-api-key.sh 3'
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
[ $# -eq 1 ] || die "$USAGE"
api DELETE "/api/api-keys/$1"
printf 'API key %s revoked\n' "$1"
