# Shared by the admin scripts: sourced, never run. POSIX sh.
#   API_URL  the service (default http://localhost:3000)
#   API_KEY  an API key (admin for the admin operations)
# Prints the JSON answer (pretty with jq when installed); on an HTTP error prints the
# service's message to stderr and exits 1.

API_URL=${API_URL:-http://localhost:3000}

usage_if_asked() {
  case "${1:-}" in
    -h | --help)
      printf '%s\n' "$USAGE"
      exit 0
      ;;
  esac
}

die() {
  printf '%s\n' "$*" >&2
  exit 2
}

need_key() {
  [ -n "${API_KEY:-}" ] || die "API_KEY is not set (export API_KEY=<your key>)"
}

# A JSON string literal: backslashes, quotes and control characters escaped.
json_str() {
  printf '"%s"' "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' | tr -d '\r\n')"
}

# api METHOD PATH [JSON_BODY]: prints the answer; exits 1 on an HTTP error.
api() {
  need_key
  _tmp=$(mktemp)
  if [ -n "${3:-}" ]; then
    _status=$(curl -sS -o "$_tmp" -w '%{http_code}' -X "$1" -H "x-api-key: $API_KEY" -H 'Content-Type: application/json' \
      --data "$3" "$API_URL$2") || { rm -f "$_tmp"; die "cannot reach $API_URL"; }
  else
    _status=$(curl -sS -o "$_tmp" -w '%{http_code}' -X "$1" -H "x-api-key: $API_KEY" "$API_URL$2") ||
      { rm -f "$_tmp"; die "cannot reach $API_URL"; }
  fi
  if [ "$_status" -ge 400 ]; then
    printf 'HTTP %s: ' "$_status" >&2
    if command -v jq >/dev/null 2>&1 && jq -e . "$_tmp" >/dev/null 2>&1; then
      jq -r '"\(.error // "error") (\(.code // "-"))", ((.details // [])[] | "  \(.path): \(.message)")' "$_tmp" >&2
    else
      cat "$_tmp" >&2
      printf '\n' >&2
    fi
    rm -f "$_tmp"
    exit 1
  fi
  if [ -s "$_tmp" ]; then
    if command -v jq >/dev/null 2>&1; then jq . "$_tmp"; else cat "$_tmp"; printf '\n'; fi
  fi
  rm -f "$_tmp"
}

# One field of a JSON answer (jq when installed, else a plain-text match of "field": value).
field() {
  if command -v jq >/dev/null 2>&1; then
    jq -r "$1"
  else
    sed -n "s/.*\"${2}\": *\"\{0,1\}\([^\",}]*\).*/\1/p" | head -n 1
  fi
}
