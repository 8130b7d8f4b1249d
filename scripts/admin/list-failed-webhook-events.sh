#!/bin/sh
# Lists inbound webhook events parked as failed (after their last attempt), newest first.
set -eu
USAGE='Usage: list-failed-webhook-events.sh [PROVIDER]
Lists inbound webhook events parked as failed (after their last attempt), newest first.
Reads API_URL (default http://localhost:3000) and API_KEY.
Example: list-failed-webhook-events.sh wealthbox'
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
api GET "/api/webhooks/events?status=failed&limit=100${1:+&provider=$1}"
