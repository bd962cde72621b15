/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging: one line per message on stderr, "<prio>" prefixed when stderr is the journal or a pipe; messages
 * with fields of their own go to the journal natively. */

#include <endian.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

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

/* The journal's native socket, connected once before any thread exists (log_open_journal()): listener
 * threads log while chrooted into a sandbox's root, where a path would name the sandbox's file, not
 * journald's. -EBADF: stderr is not the journal, or the socket is not there; lines go to stderr. */
static int journal_fd = -EBADF;

void log_open_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };
        struct stat st;
        int fd;

        /* Only where stderr is the journal's stream already (systemd sets JOURNAL_STREAM=dev:ino). */
        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0 ||
            st.st_dev != dev || st.st_ino != ino)
                return;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return;
        if (connect(fd, (const struct sockaddr *) &sa, sizeof sa) < 0) {
                safe_close(fd);
                return;
        }
        journal_fd = fd;
}

/* One field in the journal's native protocol: "KEY=value\n", or for a value with a newline in it
 * "KEY\n" + its length (64 bit, little endian) + the value + "\n". */
static size_t native_field(struct iovec *iov, char *scratch, size_t scratch_size, const char *field) {
        const char *eq = strchr(field, '=');
        size_t key = eq ? (size_t) (eq - field) : strlen(field), n = 0;
        uint64_t len;

        if (!eq || !strchr(eq + 1, '\n')) {
                iov[n++] = (struct iovec) { .iov_base = (char *) field, .iov_len = strlen(field) };
                iov[n++] = (struct iovec) { .iov_base = (char *) "\n", .iov_len = 1 };
                return n;
        }
        len = htole64(strlen(eq + 1));
        if (scratch_size < sizeof len)
                return 0;
        memcpy(scratch, &len, sizeof len);
        iov[n++] = (struct iovec) { .iov_base = (char *) field, .iov_len = key };
        iov[n++] = (struct iovec) { .iov_base = (char *) "\n", .iov_len = 1 };
        iov[n++] = (struct iovec) { .iov_base = scratch, .iov_len = sizeof len };
        iov[n++] = (struct iovec) { .iov_base = (char *) eq + 1, .iov_len = strlen(eq + 1) };
        iov[n++] = (struct iovec) { .iov_base = (char *) "\n", .iov_len = 1 };
        return n;
}

#define LOG_STRUCT_FIELDS_MAX 12

void log_struct(int level, const char *const *fields, const char *message) {
        struct iovec iov[(LOG_STRUCT_FIELDS_MAX + 3) * 5];
        char lengths[LOG_STRUCT_FIELDS_MAX + 3][8], priority[16];
        _cleanup_free_ char *m = NULL;
        const char *all[LOG_STRUCT_FIELDS_MAX + 4];
        size_t n = 0, k = 0;

        if (level > max_level)
                return;
        if (journal_fd < 0 || asprintf(&m, "MESSAGE=%s", message) < 0) {
                log_write_line(level, message);
                return;
        }
        snprintf(priority, sizeof priority, "PRIORITY=%i", level);
        all[k++] = m;
        all[k++] = priority;
        all[k++] = "SYSLOG_IDENTIFIER=sysbrokerd";
        for (const char *const *f = fields; f && *f && k < ELEMENTSOF(all) - 1; f++)
                all[k++] = *f;
        for (size_t i = 0; i < k; i++)
                n += native_field(iov + n, lengths[i], sizeof lengths[i], all[i]);
        if (sendmsg(journal_fd, &(struct msghdr) { .msg_iov = iov, .msg_iovlen = n }, MSG_NOSIGNAL) < 0)
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
