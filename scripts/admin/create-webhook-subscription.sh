#!/bin/sh
# Subscribes URL to events (user.created, user.updated, user.deleted, organization.updated, sync.completed, sync.failed, integration.status_changed). The whsec_ secret is in the answer, shown only this once.
set -eu
USAGE='Usage: create-webhook-subscription.sh ORGANIZATION_ID URL EVENT[,EVENT...]
Subscribes URL to events (user.created, user.updated, user.deleted, organization.updated, sync.completed, sync.failed, integration.status_changed). The whsec_ secret is in the answer, shown only this once.
Reads API_URL (default http://localhost:3000) and API_KEY.
Example: create-webhook-subscription.sh 12 https://example.com/hooks user.created,user.updated'
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
[ $# -eq 3 ] || die "$USAGE"
events=$(printf '%s' "$3" | sed -e 's/[^A-Za-z0-9._,]//g' -e 's/[^,][^,]*/"&"/g')
api POST /api/webhook-subscriptions "{\"organizationId\":$1,\"url\":$(json_str "$2"),\"events\":[$events]}"
