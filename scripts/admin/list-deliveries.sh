#!/bin/sh
# Lists a subscription's deliveries with their attempts, newest first; STATUS: pending, sending, succeeded, failed, skipped.
set -eu
USAGE='Usage: list-deliveries.sh SUBSCRIPTION_ID [STATUS]
Lists a subscription'\''s deliveries with their attempts, newest first; STATUS: pending, sending, succeeded, failed, skipped.
Reads API_URL (default http://localhost:3000) and API_KEY.
Example: list-deliveries.sh 5 failed'
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
[ $# -ge 1 ] || die "$USAGE"
api GET "/api/webhook-subscriptions/$1/deliveries${2:+?status=$2}"
