/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reading a task's credentials from /proc/<tid>/status: every field from its own line, nothing taken from a
 * neighbour or from inside another line, and a file that lacks one (a task being torn down) or names more
 * groups than fit refused rather than used in part. And the capabilities a listener thread takes on are
 * that thread's alone. */

#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capabilities.h"
#include "target.h"
#include "unit.h"

/* The lines around the wanted ones as Linux 6.x writes them, with neighbours that share a first letter. */
#define STATUS_HEAD                                                                              \
        "Name:\tUid:\t0\t0\t0\t0\n"                                                              \
        "Umask:\t0027\n"                                                                         \
        "State:\tS (sleeping)\n"                                                                 \
        "Tgid:\t4242\n"                                                                          \
        "Ngid:\t0\n"                                                                             \
        "Pid:\t4243\n"                                                                           \
        "PPid:\t1\n"                                                                             \
        "TracerPid:\t7\n"                                                                        \
        "Uid:\t1000\t1001\t1002\t1003\n"                                                         \
        "Gid:\t2000\t2001\t2002\t2003\n"                                                         \
        "FDSize:\t64\n"
#define STATUS_TAIL                                                                              \
        "Threads:\t1\n"                                                                          \
        "CapInh:\t0000000000000001\n"                                                            \
        "CapPrm:\t0000000000000002\n"                                                            \
        "CapEff:\t0000000000000400\n"                                                            \
        "CapBnd:\t000001ffffffffff\n"                                                            \
        "Cpus_allowed:\t3\n"

static int parse(const char *text, Target *t) {
        char *copy = strdup(text);
        int r;

        *t = TARGET_NULL;
        r = copy ? target_parse_status(copy, t) : -ENOMEM;
        free(copy);
        return r;
}

static void test_fields_come_from_their_own_lines(void) {
        Target t;

        CHECK(parse(STATUS_HEAD "Groups:\t10 20 30 \n" STATUS_TAIL, &t) == 0);
        CHECK(t.tgid == 4242);
        CHECK(t.uid == 1000 && t.euid == 1001 && t.suid == 1002 && t.fsuid == 1003);
        CHECK(t.gid == 2000 && t.egid == 2001 && t.sgid == 2002 && t.fsgid == 2003);
        CHECK(t.n_groups == 3 && t.groups[0] == 10 && t.groups[1] == 20 && t.groups[2] == 30);
        CHECK(t.umask == 0027);
        CHECK(t.cap_effective == 0x400);
}

static void test_no_groups(void) {
        Target t;

        CHECK(parse(STATUS_HEAD "Groups:\t\n" STATUS_TAIL, &t) == 0);
        CHECK(t.n_groups == 0);
}

static void test_a_missing_line_means_gone(void) {
        static const char *const wanted[] = { "Umask:", "Tgid:", "\nUid:", "\nGid:", "Groups:", "CapEff:" };
        const char *full = STATUS_HEAD "Groups:\t10\n" STATUS_TAIL;

        for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
                char *copy = strdup(full), *line = strstr(copy, wanted[i]);
                Target t = TARGET_NULL;

                if (line[0] == '\n')
                        line++;
                line[0] = 'X'; /* the line stays, under another name */
                CHECK(target_parse_status(copy, &t) == -ESRCH);
                free(copy);
        }
}

static void test_too_many_groups_are_refused_not_cut(void) {
        char text[8192] = STATUS_HEAD "Groups:\t";
        Target t;

        for (unsigned g = 0; g <= sizeof t.groups / sizeof t.groups[0]; g++)
                snprintf(text + strlen(text), sizeof text - strlen(text), "%u ", g);
        strncat(text, "\n" STATUS_TAIL, sizeof text - strlen(text) - 1);
        CHECK(parse(text, &t) == -ENOSPC);
}

static void test_malformed_ids_are_refused(void) {
        Target t;

        CHECK(parse("Uid:\t1000\t1000\n", &t) == -EINVAL);
        CHECK(parse("Groups:\t10 x\n", &t) == -EINVAL);
        CHECK(parse("Gid:\t99999999999\t0\t0\t0\n", &t) == -EINVAL);
}

/* The real thing: our own status says what the credential calls say. */
static void test_own_status(void) {
        char buf[16384];
        gid_t groups[256];
        int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC), n_groups = getgroups(256, groups);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
        mode_t mask = umask(0);
        Target t = TARGET_NULL;

        umask(mask);
        CHECK(n > 0);
        if (n <= 0)
                return;
        buf[n] = 0;
        CHECK(target_parse_status(buf, &t) == 0);
        CHECK(t.tgid == getpid());
        CHECK(t.uid == getuid() && t.euid == geteuid());
        CHECK(t.gid == getgid() && t.egid == getegid());
        CHECK(t.umask == mask);
        CHECK(n_groups >= 0 && t.n_groups == (size_t) n_groups);
        for (int i = 0; i < n_groups && (size_t) i < t.n_groups; i++)
                CHECK(t.groups[i] == groups[i]);
        close(fd);
}

/* The effective capabilities of the calling thread, from its own status: UINT64_MAX if they cannot be read. */
static uint64_t thread_cap_effective(void) {
        char buf[16384];
        int fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
        Target t = TARGET_NULL;

        if (fd >= 0)
                close(fd);
        if (n <= 0)
                return UINT64_MAX;
        buf[n] = 0;
        return target_parse_status(buf, &t) < 0 ? UINT64_MAX : t.cap_effective;
}

typedef struct CapThread {
        pthread_barrier_t dropped, checked;
        uint64_t own_after_drop, own_after_restore;
        int r_drop, r_restore;
} CapThread;

static void *cap_thread(void *userdata) {
        CapThread *ct = userdata;

        ct->r_drop = capabilities_set_effective(0);
        ct->own_after_drop = thread_cap_effective();
        pthread_barrier_wait(&ct->dropped);
        pthread_barrier_wait(&ct->checked);
        ct->r_restore = capabilities_restore();
        ct->own_after_restore = thread_cap_effective();
        capabilities_finish_thread();
        return NULL;
}

/* libcap's cap_set_proc() changes every thread when the program is linked with libpsx: a listener thread
 * taking on a target's capabilities must change its own only. */
static void test_capabilities_are_per_thread(void) {
        CapThread ct = {};
        uint64_t before = thread_cap_effective();
        pthread_t thread;

        CHECK(capabilities_setup_process() == 0);
        if (before == 0 || before == UINT64_MAX)
                return; /* unprivileged: nothing to drop */
        CHECK(capabilities_restore() == 0);
        before = thread_cap_effective();
        pthread_barrier_init(&ct.dropped, NULL, 2);
        pthread_barrier_init(&ct.checked, NULL, 2);
        CHECK(pthread_create(&thread, NULL, cap_thread, &ct) == 0);
        pthread_barrier_wait(&ct.dropped);
        CHECK(ct.r_drop == 0);
        CHECK(ct.own_after_drop == 0);
        CHECK(thread_cap_effective() == before);
        pthread_barrier_wait(&ct.checked);
        CHECK(pthread_join(thread, NULL) == 0);
        CHECK(ct.r_restore == 0);
        CHECK(ct.own_after_restore == before);
        CHECK(thread_cap_effective() == before);
        pthread_barrier_destroy(&ct.dropped);
        pthread_barrier_destroy(&ct.checked);
        capabilities_finish_thread();
}

UNIT_MAIN(T(test_fields_come_from_their_own_lines), T(test_no_groups), T(test_a_missing_line_means_gone),
          T(test_too_many_groups_are_refused_not_cut), T(test_malformed_ids_are_refused), T(test_own_status),
          T(test_capabilities_are_per_thread))
