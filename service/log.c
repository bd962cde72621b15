/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging: one line per message on stderr, "<prio>" prefixed when stderr is the journal or a pipe; messages
 * with fields of their own go to the journal natively. */

#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static int use_prefix = -1;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_parse_level(const char *s) {
        static const char *const names[] = {
                [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit", [LOG_ERR] = "err",
                [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
        };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i]))
                        return (int) i;
        return -EINVAL;
}

static void log_write_line(int level, const char *line) {
        char escaped[4 * 2048 + 1], *e = escaped;

        /* Paths and descriptions come from sandboxes and callers: a newline in them must not start a line
         * of its own (the journal's stream would take a "<0>" after it for a priority). */
        for (const char *p = line; *p && e < escaped + sizeof escaped - 5; p++) {
                if ((unsigned char) *p < ' ' || *p == 0x7f)
                        e += sprintf(e, "\\x%02x", (unsigned char) *p);
                else
                        *e++ = *p;
        }
        *e = 0;

        /* Whole lines only: several threads log at once. */
        if (use_prefix < 0)
                use_prefix = !isatty(STDERR_FILENO);
        flockfile(stderr);
        if (use_prefix)
                fprintf(stderr, "<%d>%s\n", level, escaped);
        else
                fprintf(stderr, "%s\n", escaped);
        funlockfile(stderr);
}

static bool stderr_is_journal_stream;

static void check_journal_stream(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        stderr_is_journal_stream = e && sscanf(e, "%llu:%llu", &dev, &ino) == 2 &&
                fstat(STDERR_FILENO, &st) >= 0 && st.st_dev == dev && st.st_ino == ino;
}

/* Whether stderr is the journal's stream (systemd sets JOURNAL_STREAM=dev:ino for it). */
static bool stderr_is_journal(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;

        (void) pthread_once(&once, check_journal_stream);
        return stderr_is_journal_stream;
}

void log_struct(int level, const char *const *fields, const char *message) {
        struct iovec iov[16];
        char priority[16];
        _cleanup_free_ char *m = NULL;
        size_t n = 0;

        if (level > max_level)
                return;
        if (!stderr_is_journal() || asprintf(&m, "MESSAGE=%s", message) < 0) {
                log_write_line(level, message);
                return;
        }
        snprintf(priority, sizeof priority, "PRIORITY=%i", level);
        iov[n++] = (struct iovec) { .iov_base = m, .iov_len = strlen(m) };
        iov[n++] = (struct iovec) { .iov_base = priority, .iov_len = strlen(priority) };
        iov[n++] = (struct iovec) { .iov_base = (char *) "SYSLOG_IDENTIFIER=sysbrokerd", .iov_len = 28 };
        for (const char *const *f = fields; f && *f && n < ELEMENTSOF(iov); f++)
                iov[n++] = (struct iovec) { .iov_base = (char *) *f, .iov_len = strlen(*f) };
        if (sd_journal_sendv(iov, (int) n) < 0)
                log_write_line(level, message);
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *format, ...) {
        char buf[2048];
        va_list ap;
        int saved = errno;

        /* %m means the error we were handed, not whatever errno happens to be. */
        if (error != 0)
                errno = abs(error);
        va_start(ap, format);
        (void) vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);

        log_write_line(level, buf);

        errno = saved;
        return -abs(error);
}
