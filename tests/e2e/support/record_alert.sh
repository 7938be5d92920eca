#!/bin/sh
# An --alert-exec hook for the end-to-end tests (tests/e2e/hooks/binary.rs): appends one line per run to
# the file named by its first argument, with what traffic-watch passed in the environment and
# the second argument exactly as received (it must arrive untouched: no shell in between).
#   kind|hits|time|lower_bound|message|argument count|second argument
printf '%s|%s|%s|%s|%s|%s|%s\n' "$TW_ALERT_KIND" "$TW_ALERT_HITS" "$TW_ALERT_TIME" \
    "$TW_ALERT_LOWER_BOUND" "$TW_ALERT_MESSAGE" "$#" "$2" >>"$1"
