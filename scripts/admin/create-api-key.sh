#!/bin/sh
# Creates an API key: scoped to ORGANIZATION_ID when given, else an admin key. The key is in the answer, shown only this once.
set -eu
USAGE='Usage: create-api-key.sh NAME [ORGANIZATION_ID]
Creates an API key: scoped to ORGANIZATION_ID when given, else an admin key. The key is in the answer, shown only this once.
Reads API_URL (default http://localhost:3000) and API_KEY.
Example: create-api-key.sh "billing service" 12'
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
[ $# -ge 1 ] || die "$USAGE"
if [ -n "${2:-}" ]; then
  api POST /api/api-keys "{\"name\":$(json_str "$1"),\"scope\":\"organization\",\"organizationId\":$2}"
else
  api POST /api/api-keys "{\"name\":$(json_str "$1"),\"scope\":\"admin\"}"
fi
