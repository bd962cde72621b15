/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The broker's capabilities, per thread, with libcap. sysbrokerd does not link libpsx: cap_set_proc() is
 * then one capset() on the calling thread (tests/unit/test-target.c checks that), which is what a listener
 * thread taking on a target's capabilities must change, and nothing else. */

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>

#include "capabilities.h"
#include "log.h"

/* Process-wide, set once before the first listener thread. */
static uint64_t broker_capabilities;   /* our permitted set: effective again after every target */

/* Per listener thread: the broker's own set, ready to set, and one to fill with a target's. */
static __thread cap_t thread_caps_broker;
static __thread cap_t thread_caps_target;

/* What the emulations need, as units/sysbrokerd.service.in's CapabilityBoundingSet= says why. */
static const cap_value_t required[] = {
        CAP_MKNOD,
        CAP_SYS_ADMIN,
        CAP_SYS_CHROOT,
        CAP_SYS_PTRACE,
        CAP_DAC_OVERRIDE,
        CAP_DAC_READ_SEARCH,
        CAP_SETUID,
        CAP_SETGID,
};

static void cap_freep(cap_t *caps) {
        cap_free(*caps);
}

int capabilities_setup_process(void) {
        _cleanup_(cap_freep) cap_t caps = NULL;

        caps = cap_get_proc();
        if (!caps)
                return log_error_errno(-errno, "Failed to read our capabilities: %m");
        broker_capabilities = 0;
        for (cap_value_t c = 0; c < 64; c++) {
                cap_flag_value_t v;

                if (cap_get_flag(caps, c, CAP_PERMITTED, &v) < 0)
                        break; /* beyond what libcap knows: neither we nor the kernel have it */
                if (v == CAP_SET)
                        broker_capabilities |= UINT64_C(1) << c;
        }
        return 0;
}

const char *capability_to_string(int capability, char buf[static 32]) {
        char *name = cap_to_name((cap_value_t) capability);

        assert(buf);

        if (name)
                snprintf(buf, 32, "%s", name);
        else
                snprintf(buf, 32, "%i", capability);
        cap_free(name);
        return buf;
}

int capabilities_check_required(void) {
        char missing[512] = "";
        size_t n = 0, len = 0;

        for (size_t i = 0; i < ELEMENTSOF(required); i++) {
                char name[32];

                if (broker_capabilities & (UINT64_C(1) << required[i]))
                        continue;
                len += (size_t) snprintf(missing + len, sizeof missing - len, "%s%s", n > 0 ? " " : "",
                                         capability_to_string(required[i], name));
                n++;
        }
        if (n == ELEMENTSOF(required))
                log_notice("Running without any of the capabilities the emulations need (%s): an emulation "
                           "needing one fails with EPERM.", missing);
        else if (n > 0)
                log_warning("Lacking capabilities the emulations need: %s. The emulations that need them will "
                            "fail with EPERM (was CapabilityBoundingSet= trimmed?).", missing);
        return (int) n;
}

/* Sets flag of caps to exactly the capabilities of mask. */
static int caps_set_flag_to(cap_t caps, cap_flag_t flag, uint64_t mask) {
        cap_value_t values[64];
        int n = 0;

        if (cap_clear_flag(caps, flag) < 0)
                return -errno;
        for (uint64_t m = mask; m != 0; m &= m - 1)
                values[n++] = (cap_value_t) __builtin_ctzll(m);
        if (n > 0 && cap_set_flag(caps, flag, n, values, CAP_SET) < 0)
                return -errno;
        return 0;
}

int capabilities_setup_thread(void) {
        int r;

        if (thread_caps_broker)
                return 0;
        /* cap_init(): all clear, inheritable too. Permitted stays the broker's in both. */
        thread_caps_broker = cap_init();
        thread_caps_target = cap_init();
        if (!thread_caps_broker || !thread_caps_target) {
                capabilities_finish_thread();
                return log_oom();
        }
        r = caps_set_flag_to(thread_caps_broker, CAP_PERMITTED, broker_capabilities);
        if (r >= 0)
                r = caps_set_flag_to(thread_caps_broker, CAP_EFFECTIVE, broker_capabilities);
        if (r >= 0)
                r = caps_set_flag_to(thread_caps_target, CAP_PERMITTED, broker_capabilities);
        if (r < 0) {
                capabilities_finish_thread();
                return log_error_errno(r, "Failed to prepare the thread's capabilities: %m");
        }
        return 0;
}

void capabilities_finish_thread(void) {
        cap_free(thread_caps_broker);
        cap_free(thread_caps_target);
        thread_caps_broker = thread_caps_target = NULL;
}

int capabilities_set_effective(uint64_t effective) {
        int r;

        /* Listener threads are set up; another thread (a test) is here on first use. */
        r = capabilities_setup_thread();
        if (r < 0)
                return r;
        r = caps_set_flag_to(thread_caps_target, CAP_EFFECTIVE, effective & broker_capabilities);
        if (r < 0)
                return r;
        return cap_set_proc(thread_caps_target) < 0 ? -errno : 0;
}

int capabilities_restore(void) {
        int r;

        r = capabilities_setup_thread();
        if (r < 0)
                return r;
        return cap_set_proc(thread_caps_broker) < 0 ? -errno : 0;
}
