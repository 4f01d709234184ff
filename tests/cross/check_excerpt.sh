#!/bin/sh
# check_excerpt.sh DOC HEADING SOURCE
# Passes when the first code block under the line HEADING of DOC is a run
# of consecutive lines of SOURCE, so the code a reader sees is code that is
# compiled and tested.
set -eu
doc=$1 heading=$2 source=$3
awk -v heading="$heading" '
NR == FNR { src[++n] = $0; next }
$0 == heading { section = 1; next }
section && !block && /^```/ { block = 1; next }
block && /^```$/ { block = 0; section = 0; next }
block { ex[++m] = $0 }
END {
    if (m == 0) { print "no code block under \"" heading "\""; exit 1 }
    for (s = 1; s + m - 1 <= n; s++) {
        k = 1
        while (k <= m && src[s + k - 1] == ex[k]) k++
        if (k > m) { print "the " m " lines under \"" heading "\" are lines " s "-" (s + m - 1) " of the source"; exit 0 }
    }
    print "the code under \"" heading "\" is not a part of the source; update one or the other"
    exit 1
}' "$source" "$doc"
