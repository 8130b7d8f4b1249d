#!/bin/sh
# Deletes a user and erases its personal data (GDPR erasure): the user row is blanked, and
# stored inbound webhook payloads and outbound event bodies that name it are replaced.
set -eu
USAGE='Usage: erase-user.sh ID
Deletes the user (if not deleted already) and erases its personal data from the user row,
stored inbound webhook payloads and outbound webhook events, in one transaction. Cannot be undone.
Reads API_URL (default http://localhost:3000) and API_KEY (an organization key erases only its own users).
Example: erase-user.sh 42'
. "$(dirname "$0")/_lib.sh"
usage_if_asked "$@"
[ $# -eq 1 ] || die "$USAGE"
case "$1" in
  '' | *[!0-9]*) die "ID must be a number: $1" ;;
esac
api DELETE "/api/users/$1?erase=true"
