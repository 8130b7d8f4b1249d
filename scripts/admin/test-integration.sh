#!/bin/sh
# Tests an integration with one real call to its CRM; its status follows the result.
set -eu
USAGE='Usage: test-integration.sh ID
Tests an integration with one real call to its CRM; its status follows the result.
Reads API_URL (default http://localhost:3000) and API_KEY.
Example: test-integration.sh 7'
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
[ $# -eq 1 ] || die "$USAGE"
api POST "/api/integrations/$1/test"
