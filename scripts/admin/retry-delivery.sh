#!/bin/sh
# Sends a finished (failed or succeeded) delivery again.
set -eu
USAGE='Usage: retry-delivery.sh SUBSCRIPTION_ID DELIVERY_ID
Sends a finished (failed or succeeded) delivery again.
Reads API_URL (default http://localhost:3000) and API_KEY.
Example: retry-delivery.sh 5 180'
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
[ $# -eq 2 ] || die "$USAGE"
api POST "/api/webhook-subscriptions/$1/deliveries/$2/retry"
