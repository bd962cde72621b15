#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The launcher libsysbroker(3) prints as its EXAMPLE compiles, warning-free, the way the page says (cc and
# pkg-config, #include <sysbroker/sysbroker.h>), and does what the page shows: run as a user, it has the
# broker create the device node its one rule allows, inside a user namespace that refuses it otherwise.
set -euo pipefail
. "$SRCDIR/tests/integration/lib.sh"
sb_init "$@"
sb_require_programs cc pkg-config unshare
sb_start_all "$SB_RULES/allow-all.rules"

# The source is the second .EX block of the EXAMPLE section (the first is the shell session), with the
# page's escapes undone.
awk '/^\.SH / { s = ($0 == ".SH EXAMPLE") } s && /^\.EX/ { n++; ex = 1; next } s && /^\.EE/ { ex = 0; next }
     s && ex && n == 2' "$BUILDDIR/docs/libsysbroker.3" |
        sed -e 's/\\-/-/g' -e 's/\\e/\\/g' -e 's/\\&//g' >"$T/launcher.c"
assert_true "the page's example holds main()" grep -q '^int main(int argc, char \*argv\[\]) {$' "$T/launcher.c"

# Where the page says /tmp/x, the test user's own directory: nothing on the host's /tmp is touched.
D=$T/work/x
run_as_user mkdir "$D"
sed -i "s|/tmp/x/null|$D/null|" "$T/launcher.c"
assert_true "its rule is the node the page creates" grep -q "\"c 1:3 $D/null\"" "$T/launcher.c"

# The installed layout: the headers under sysbroker/, the library the uninstalled .pc file points to.
mkdir -p "$T/include/sysbroker"
ln -s "$SRCDIR/client/sysbroker.h" "$SRCDIR/dbus/sysbroker-bus.h" "$T/include/sysbroker/"
# A library built with sanitizers (tools/test --sanitize) leaves their runtime to the program: build the
# example the same way, with the compiler that build used.
compiler=(cc)
# (grep reads all of nm's output: with -q it would stop early, and pipefail would take nm's SIGPIPE for a no.)
if nm -D "$BUILDDIR/client/libsysbroker.so" 2>/dev/null | grep ' U __asan_init' >/dev/null; then
    compiler=(clang-14 -fsanitize=address,undefined -fno-sanitize-recover=all)
fi
rc=0
# shellcheck disable=SC2046 # pkg-config's flags are words, as the page's command line splits them
out=$("${compiler[@]}" -Wall -Wextra -Werror -O2 -D_FORTIFY_SOURCE=2 -I"$T/include" -o "$T/launcher" "$T/launcher.c" \
        $(PKG_CONFIG_PATH="$BUILDDIR/meson-uninstalled" pkg-config --cflags --libs libsysbroker) 2>&1) || rc=$?
assert_eq "the example compiles without warnings" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/# /'

rc=0
out=$(run_as_user env LD_LIBRARY_PATH="$BUILDDIR/client" "$T/launcher" unshare -Ur mknod "$D/null" c 1 3 2>&1) ||
        rc=$?
assert_eq "the launcher exits with the command's status, 0" 0 "$rc"
assert_contains "and reports the registration" "$out" "registered"
assert_eq "the node is a character device" "character special file" "$(stat -c %F "$D/null" 2>&1)"
assert_eq "with rdev 1:3" "1:3" "$(stat -c '%Hr:%Lr' "$D/null" 2>&1)"

# Without the launcher, the kernel refuses: the node above is the broker's doing.
rc=0
run_as_user unshare -Ur mknod "$D/null2" c 1 3 2>/dev/null || rc=$?
assert_false "the same mknod alone fails" [ "$rc" = 0 ]

sb_finish
