# SPDX-License-Identifier: LGPL-2.1-or-later
# The mount(s) at mount point t in a mountinfo file, one line each, for tests to match:
#   opts=<per-mount options> fstype=<type> source=<source> super=<superblock options> dev=<major:minor>
# (awk -v t=PATH -f mntinfo.awk /proc/self/mountinfo; sb_mntinfo in lib.sh).
$5 == t {
    for (i = 7; $i != "-"; i++) ;
    print "opts=" $6 " fstype=" $(i + 1) " source=" $(i + 2) " super=" $(i + 3) " dev=" $3
}
