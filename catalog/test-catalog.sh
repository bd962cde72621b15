#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The journal catalog against the code: every MESSAGE_ID sysbrokerd defines (service/message-id.h) has an
# entry in catalog/sysbroker.catalog and every entry's id is defined; every id defined is written somewhere
# (a C file of the daemon, or the stop-post script for the lost listeners); and journalctl itself reads the
# file into a catalog database (a file it cannot parse, or an entry without a Subject, would be left out).
set -euo pipefail

SRC=${1:?usage: test-catalog.sh SRCDIR}
CATALOG=$SRC/catalog/sysbroker.catalog
IDS=$SRC/service/message-id.h
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift
    for l in "$@"; do echo "# $l"; done
}
check_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "actual:   $3"; fi
}

defined=$(sed -n 's/^#define SB_MESSAGE_[A-Z_]* "\([0-9a-f]*\)"$/\1/p' "$IDS" | sort)
in_catalog=$(sed -n 's/^-- \([0-9a-f]*\)$/\1/p' "$CATALOG" | sort)
[ -n "$defined" ] || not_ok "message-id.h defines ids" "none found in $IDS"
check_eq "the catalog explains exactly the ids message-id.h defines" "$(echo $defined)" "$(echo $in_catalog)"
check_eq "no id twice in the catalog" "$(sed -n 's/^-- \([0-9a-f]*\)$/\1/p' "$CATALOG" | sort -u | wc -l)" \
    "$(sed -n 's/^-- \([0-9a-f]*\)$/\1/p' "$CATALOG" | wc -l)"
for id in $defined; do
    if ! [[ "$id" =~ ^[0-9a-f]{32}$ ]]; then
        not_ok "id $id is 128 bits in lower-case hex"
    fi
done

# Used: the macro in a C file of the daemon, or the id itself in the stop-post script.
unused=()
while read -r name id; do
    if grep -qw "$name" "$SRC"/service/*.c || grep -qF "$id" "$SRC/units/sysbrokerd-stop-post.in"; then
        continue
    fi
    unused+=("$name")
done < <(sed -n 's/^#define \(SB_MESSAGE_[A-Z_]*\) "\([0-9a-f]*\)"$/\1 \2/p' "$IDS")
check_eq "every id defined is written by the daemon or the stop-post script" "" "${unused[*]:-}"
# And nothing writes an id of its own outside message-id.h.
stray=$(grep -rhoE 'MESSAGE_ID=[0-9a-f]{32}' "$SRC/service" "$SRC/units" | sed 's/MESSAGE_ID=//' | sort -u |
        while read -r id; do grep -q "$id" <<<"$defined" || echo "$id"; done)
check_eq "no MESSAGE_ID is written that message-id.h does not define" "" "$stray"

if ! command -v journalctl >/dev/null 2>&1; then
    echo "# journalctl is not installed: the catalog's syntax is not checked"
else
    R=$(mktemp -d)
    trap 'rm -rf "$R"' EXIT
    mkdir -p "$R/usr/lib/systemd/catalog"
    cp "$CATALOG" "$R/usr/lib/systemd/catalog/"
    err=$(journalctl --root="$R" --update-catalog 2>&1) && rc=0 || rc=$?
    check_eq "journalctl --update-catalog takes the file without a complaint" "0 " "$rc $err"
    listed=$(journalctl --root="$R" --list-catalog 2>&1 | sed -n 's/^\([0-9a-f]\{32\}\) sysbroker: .*/\1/p' | sort)
    check_eq "journalctl lists every entry, each with a Subject, defined by sysbroker" "$(echo $defined)" \
        "$(echo $listed)"
fi

echo "1..$n"
[ "$failed" = 0 ]
