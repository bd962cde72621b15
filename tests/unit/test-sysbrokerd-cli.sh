#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# sysbrokerd's command line: --version and --help answer without a bus, bad options are refused with a
# message and a failing exit status, before anything is started.
set -u
sysbrokerd=$1
version=$2
n=0 failed=0

check() {
    local name=$1
    shift
    n=$((n + 1))
    if "$@"; then
        echo "ok $n - $name"
    else
        echo "not ok $n - $name"
        failed=1
    fi
}

out=$("$sysbrokerd" --version 2>&1); rc=$?
check "--version prints the version" test "$rc" = 0 -a "$out" = "sysbrokerd $version"
out=$("$sysbrokerd" --help 2>&1); rc=$?
check "--help exits 0" test "$rc" = 0
check "--help lists --no-idle-exit and the limits" \
        sh -c 'case "$1" in *--no-idle-exit*--max-listeners-per-user*) exit 0;; esac; exit 1' _ "$out"
out=$("$sysbrokerd" --frobnicate 2>&1); rc=$?
check "an unknown option fails" test "$rc" != 0
check "naming it" sh -c 'case "$1" in *frobnicate*) exit 0;; esac; exit 1' _ "$out"
out=$("$sysbrokerd" --max-rules=0 2>&1); rc=$?
check "--max-rules=0 fails" test "$rc" != 0
check "and says which option and why" sh -c 'case "$1" in *--max-rules*0*) exit 0;; esac; exit 1' _ "$out"
out=$("$sysbrokerd" --polkit-timeout=0 2>&1); rc=$?
check "--polkit-timeout=0 fails (a check must be given time)" test "$rc" != 0
check "and says which option" sh -c 'case "$1" in *--polkit-timeout*0*) exit 0;; esac; exit 1' _ "$out"
out=$("$sysbrokerd" --help 2>&1)
check "--help lists --polkit-timeout" sh -c 'case "$1" in *--polkit-timeout=SEC*) exit 0;; esac; exit 1' _ "$out"
check "--help lists the socket's limits" \
        sh -c 'case "$1" in *--max-message-size*--connection-timeout*) exit 0;; esac; exit 1' _ "$("$sysbrokerd" --help)"
out=$("$sysbrokerd" --max-message-size=100 2>&1); rc=$?
check "--max-message-size=100 fails, saying why" \
        sh -c 'test "$1" != 0 && case "$2" in *--max-message-size*1024*) exit 0;; esac; exit 1' _ "$rc" "$out"
out=$("$sysbrokerd" --connection-timeout=0 2>&1); rc=$?
check "--connection-timeout=0 fails, saying why" \
        sh -c 'test "$1" != 0 && case "$2" in *--connection-timeout*) exit 0;; esac; exit 1' _ "$rc" "$out"
out=$("$sysbrokerd" --log-level=chatty 2>&1); rc=$?
check "an unknown log level fails, naming it" sh -c 'test "$1" != 0 && case "$2" in *chatty*) exit 0;; esac; exit 1' _ "$rc" "$out"
# The "<N>" priority prefix is for journald's stream (or a pipe): on a terminal a person reads the line.
check "on a pipe, the line has its priority prefix" test "$out" = "<3>Unknown log level 'chatty'."
if command -v script >/dev/null 2>&1; then
        out=$(script -qec "$sysbrokerd --log-level=chatty" /dev/null 2>&1 </dev/null | tr -d '\r')
        check "on a terminal, the same line without it" test "$out" = "Unknown log level 'chatty'."
else
        echo "# script (util-linux) is not installed: the terminal case is not checked"
fi
out=$("$sysbrokerd" extra-argument 2>&1); rc=$?
check "a positional argument fails" test "$rc" != 0
check "saying it takes none" sh -c 'case "$1" in *"takes no arguments"*) exit 0;; esac; exit 1' _ "$out"

echo "1..$n"
exit $failed
