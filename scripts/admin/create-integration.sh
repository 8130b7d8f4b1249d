#!/bin/sh
# Creates an integration from a template (its provider name); CONFIG_JSON is checked against the template's schema.
set -eu
USAGE='Usage: create-integration.sh ORGANIZATION_ID PROVIDER NAME CONFIG_JSON
Creates an integration from a template (its provider name); CONFIG_JSON is checked against the template'\''s schema.
Reads API_URL (default http://localhost:3000) and API_KEY.
Example: create-integration.sh 12 wealthbox Wealthbox '\''{"apiKey":"<token>","webhookSecret":"<secret>"}'\'''
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
[ $# -eq 4 ] || die "$USAGE"
api POST /api/integrations "{\"organizationId\":$1,\"provider\":$(json_str "$2"),\"name\":$(json_str "$3"),\"config\":$4}"
