/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Linked into the programs that run inside a seccomp sandbox, for tools/test --sanitize: LeakSanitizer's
 * check at exit opens /proc/self/task, which the sandbox's rules may refuse (a default-deny listener, or
 * ENOSYS once the listener is gone), and a refused open is a fatal error of its own that changes what the
 * test sees. So no leak check in these, and only in these; ASan and UBSan stay on. ASAN_OPTIONS, read
 * after this, must then not set detect_leaks (tools/test does not). */

const char *__asan_default_options(void);

const char *__asan_default_options(void) {
        return "detect_leaks=0";
}
