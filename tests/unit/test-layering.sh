#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The service's layers call one way: main.c sits on top, and nothing in libbroker (everything but main.c)
# calls into it; below it broker.c, which nothing else in libbroker calls either. Control comes back up only
# through hooks registered from above (Broker.add_objects, ...).
set -u
lib=$1
daemon=$2
contract=$3      # dbus/'s library, linked into the daemon beside libbroker: below it, not main.c
n=0 failed=0

if ! command -v nm >/dev/null; then
    echo "1..0 # SKIP nm (binutils) is not installed"
    exit 0
fi

defined() {
    nm --defined-only "$1" 2>/dev/null | awk 'NF == 3 && $2 ~ /[TDBR]/ { print $3 }' | sort -u
}

lib_defined=$(defined "$lib")
lib_undefined=$(nm -u "$lib" | awk 'NF >= 2 { print $2 }' | sort -u)
# What the daemon defines beyond libbroker and the contract: main.c's (and the C runtime's, which libbroker
# never calls).
# A sanitized build (tools/test --sanitize) links the sanitizers' runtime into the daemon: not main.c either.
main_only=$(comm -23 <(defined "$daemon") <(sort -u <(echo "$lib_defined") <(defined "$contract")) |
                grep -Ev '^__(asan|ubsan|lsan|sanitizer|sancov)_' || true)
upcalls=$(comm -12 <(echo "$lib_undefined") <(echo "$main_only"))

n=$((n + 1))
if [ -n "$main_only" ] && echo "$main_only" | grep -x main >/dev/null; then
    echo "ok $n - main.c's symbols are visible in $(basename "$daemon")"
else
    echo "not ok $n - found no main() in $(basename "$daemon"): the check below would check nothing"
    failed=1
fi

n=$((n + 1))
if [ -z "$upcalls" ]; then
    echo "ok $n - libbroker calls nothing that only main.c defines"
else
    echo "not ok $n - libbroker calls into main.c:" $upcalls
    failed=1
fi

broker_defined=$(nm -A --defined-only "$lib" | awk '$2 ~ /[TDBR]/ && $1 ~ /\/broker\.c\.o:/ { print $3 }' | sort -u)
others_undefined=$(nm -A -u "$lib" | awk '$1 !~ /\/broker\.c\.o:/ { print $NF }' | sort -u)
upcalls=$(comm -12 <(echo "$others_undefined") <(echo "$broker_defined"))

n=$((n + 1))
if [ -z "$broker_defined" ]; then
    echo "not ok $n - found nothing that broker.c defines in $(basename "$lib")"
    failed=1
elif [ -z "$upcalls" ]; then
    echo "ok $n - nothing else in libbroker calls into broker.c"
else
    echo "not ok $n - libbroker calls into broker.c:" $upcalls
    failed=1
fi

echo "1..$n"
exit $failed
