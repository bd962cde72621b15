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

/* Both may be changed at runtime (org.freedesktop.LogControl1, on the main loop) while listener threads log:
 * read and written atomically. Relaxed: a thread that sees the new level one line late is harmless. */
static int max_level = LOG_INFO;
static int log_target = LOG_TARGET_AUTO;
static int use_prefix = -1;

void log_set_max_level(int level) {
        __atomic_store_n(&max_level, level, __ATOMIC_RELAXED);
}

int log_get_max_level(void) {
        return __atomic_load_n(&max_level, __ATOMIC_RELAXED);
}

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit", [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

const char *log_level_to_string(int level) {
        return level >= 0 && (size_t) level < ELEMENTSOF(level_names) ? level_names[level] : NULL;
}

static const char *const target_names[_LOG_TARGET_MAX] = {
        [LOG_TARGET_AUTO] = "auto",
        [LOG_TARGET_CONSOLE] = "console",
        [LOG_TARGET_CONSOLE_PREFIXED] = "console-prefixed",
        [LOG_TARGET_JOURNAL] = "journal",
        [LOG_TARGET_NULL] = "null",
};

const char *log_target_to_string(LogTarget t) {
        return t >= 0 && t < _LOG_TARGET_MAX ? target_names[t] : NULL;
}

LogTarget log_target_from_string(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(target_names); i++)
                if (streq(s, target_names[i]))
                        return (LogTarget) i;
        return -EINVAL;
}

LogTarget log_get_target(void) {
        return __atomic_load_n(&log_target, __ATOMIC_RELAXED);
}

int log_parse_level(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (streq(s, level_names[i]))
                        return (int) i;
        return -EINVAL;
}

static void log_write_line(int level, const char *line) {
        char escaped[4 * 2048 + 1], *e = escaped;
        LogTarget target = log_get_target();
        bool prefix;

        if (target == LOG_TARGET_NULL)
                return;

        /* Paths and descriptions come from sandboxes and callers: a newline in them must not start a line
         * of its own (the journal's stream would take a "<0>" after it for a priority). */
        for (const char *p = line; *p && e < escaped + sizeof escaped - 5; p++) {
                if ((unsigned char) *p < ' ' || *p == 0x7f)
                        e += sprintf(e, "\\x%02x", (unsigned char) *p);
                else
                        *e++ = *p;
        }
        *e = 0;

        /* "<N>" is for journald's stream (or whatever reads a pipe): a person at a terminal reads the line
         * itself. Decided once, at the first line; several threads may race to it, all to the same answer. */
        prefix = target == LOG_TARGET_CONSOLE_PREFIXED;
        if (!prefix) {
                int p = __atomic_load_n(&use_prefix, __ATOMIC_RELAXED);

                if (p < 0) {
                        p = !isatty(STDERR_FILENO);
                        __atomic_store_n(&use_prefix, p, __ATOMIC_RELAXED);
                }
                prefix = p;
        }
        /* Whole lines only: several threads log at once. */
        flockfile(stderr);
        if (prefix)
                fprintf(stderr, "<%d>%s\n", level, escaped);
        else
                fprintf(stderr, "%s\n", escaped);
        funlockfile(stderr);
}

/* The journal's native socket, connected once before any thread exists (log_open_journal()): listener
 * threads log while chrooted into a sandbox's root, where a path would name the sandbox's file, not
 * journald's. -EBADF: stderr is not the journal, or the socket is not there; lines go to stderr. */
static int journal_fd = -EBADF;

static int journal_fd_get(void) {
        return __atomic_load_n(&journal_fd, __ATOMIC_ACQUIRE);
}

static int journal_connect(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/run/systemd/journal/socket" };
        int fd;

        if (journal_fd_get() >= 0)
                return 0;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *) &sa, sizeof sa) < 0) {
                int r = -errno;

                safe_close(fd);
                return r;
        }
        /* Connected once and never closed: a listener thread may be sending on it right now. */
        __atomic_store_n(&journal_fd, fd, __ATOMIC_RELEASE);
        return 0;
}

void log_open_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        /* Only where stderr is the journal's stream already (systemd sets JOURNAL_STREAM=dev:ino). */
        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0 ||
            st.st_dev != dev || st.st_ino != ino)
                return;
        (void) journal_connect();
}

int log_set_target(LogTarget t) {
        int r;

        if (t < 0 || t >= _LOG_TARGET_MAX)
                return -EINVAL;
        /* From the main loop, whose root is the host's: the socket's path names journald's socket here
         * (never connected from a listener thread, which may be chrooted into a sandbox's root). */
        if (t == LOG_TARGET_JOURNAL) {
                r = journal_connect();
                if (r < 0)
                        return r;
        }
        __atomic_store_n(&log_target, t, __ATOMIC_RELAXED);
        return 0;
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

#define LOG_STRUCT_FIELDS_MAX 16

void log_struct(int level, const char *const *fields, const char *message) {
        struct iovec iov[(LOG_STRUCT_FIELDS_MAX + 3) * 5];
        char lengths[LOG_STRUCT_FIELDS_MAX + 3][8], priority[16];
        _cleanup_free_ char *m = NULL;
        const char *all[LOG_STRUCT_FIELDS_MAX + 4];
        size_t n = 0, k = 0;

        LogTarget target = log_get_target();
        int fd = journal_fd_get();

        if (level > log_get_max_level() || target == LOG_TARGET_NULL)
                return;
        /* auto: natively whenever the journal is connected (stderr is its stream, log_open_journal());
         * journal: that, and plain lines too (log_internal()); console: stderr only, fields lost. */
        if (fd < 0 || target == LOG_TARGET_CONSOLE ||
            target == LOG_TARGET_CONSOLE_PREFIXED ||
            asprintf(&m, "MESSAGE=%s", message) < 0) {
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
        if (sendmsg(fd, &(struct msghdr) { .msg_iov = iov, .msg_iovlen = n }, MSG_NOSIGNAL) < 0)
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

        if (log_get_target() == LOG_TARGET_JOURNAL)
                log_struct(level, NULL, buf);
        else
                log_write_line(level, buf);

        errno = saved;
        return -abs(error);
}
