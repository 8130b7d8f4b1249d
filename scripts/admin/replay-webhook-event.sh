#!/bin/sh
# Queues an inbound webhook event to be processed again.
set -eu
USAGE='Usage: replay-webhook-event.sh ID
Queues an inbound webhook event to be processed again.
Reads API_URL (default http://localhost:3000) and API_KEY.
Example: replay-webhook-event.sh 42'
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
[ $# -eq 1 ] || die "$USAGE"
api POST "/api/webhooks/events/$1/replay"
