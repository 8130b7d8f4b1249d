#!/bin/sh
# Creates an organization (admin key).
set -eu
USAGE='Usage: create-organization.sh NAME [SLUG]
Creates an organization (admin key).
Reads API_URL (default http://localhost:3000) and API_KEY.
Example: create-organization.sh "Acme Corp" acme'
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
[ $# -ge 1 ] || die "$USAGE"
api POST /api/organizations "{\"name\":$(json_str "$1")${2:+,\"slug\":$(json_str "$2")}}"
