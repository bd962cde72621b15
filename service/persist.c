/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listener state across restarts: the state memfd (its header page and where the text goes), the file descriptor
 * store, and restoring. The text itself is persist-text.c. */

#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "persist.h"

#define PERSIST_MAGIC "sysbroker-state1"
/* What a registration can hold, written as hex: the most rules and the longest strings the daemon's options
 * allow would not fit, but a state this size is refused by the writer, with a warning, rather than found
 * unreadable after a restart. */
#define PERSIST_TEXT_MAX (256u << 20)

/* The rules of a restored listener were accepted once: limits lowered since do not apply to them. */
static const RuleLimits restore_limits = { .max_rules = 1u << 16, .max_string_length = 4096,
                                           .max_total_length = SIZE_MAX, .restoring = true };

bool persist_enabled(void) {
        const char *e = getenv("NOTIFY_SOCKET");
        return e && e[0];
}

/* Writes the registration and the mounts after the header page. */
static int persist_write(Listener *l) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0, done = 0;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fputs(l->state_registration, f);
        for (size_t i = 0; i < l->n_mounts; i++)
                fprintf(f, "mount %" PRIu64 " %zu %lu %" PRIu64 "\n", l->mounts[i].mnt_id, l->mounts[i].rule_index,
                        l->mounts[i].kept_flags, l->mounts[i].mntns_id);
        /* The text is written over the previous one, then cut to its size: a crash in between leaves the end
         * of a longer previous text behind this line, which says where this text ends. */
        if (fflush(f) == 0)
                fprintf(f, "end-of-state %zu\n", size);
        if (fclose(f) != 0)
                return -ENOMEM;
        if (size > PERSIST_TEXT_MAX)
                return -EFBIG;

        while (done < size) {
                ssize_t k = pwrite(l->state_fd, text + done, size - done, PERSIST_TEXT_OFFSET + done);
                if (k < 0)
                        return -errno;
                done += (size_t) k;
        }
        if (ftruncate(l->state_fd, PERSIST_TEXT_OFFSET + size) < 0)
                return -errno;
        return 0;
}

static int persist_map(Listener *l) {
        void *p;

        p = mmap(NULL, sizeof(PersistHeader), PROT_READ | PROT_WRITE, MAP_SHARED, l->state_fd, 0);
        if (p == MAP_FAILED)
                return -errno;
        l->state = p;
        return 0;
}

int persist_listener_create(Listener *l, sd_bus *bus, int restored_state_fd) {
        int r;

        assert(l);

        if (restored_state_fd >= 0)
                l->state_fd = restored_state_fd;
        else {
                l->state_fd = memfd_create("sysbroker-listener-state", MFD_CLOEXEC);
                if (l->state_fd < 0)
                        return -errno;
                if (ftruncate(l->state_fd, PERSIST_TEXT_OFFSET) < 0)
                        return -errno;
        }
        r = persist_map(l);
        if (r < 0)
                return r;
        memcpy(l->state->magic, PERSIST_MAGIC, sizeof l->state->magic);

        /* Written afresh also when restored: the same registration, in this version's words. */
        r = persist_format_registration(l, bus, &l->state_registration);
        if (r < 0)
                return r;
        return persist_write(l);
}

/* The unit's RuntimeDirectory=: one directory, absolute, or none. */
static const char *list_dir(void) {
        const char *e = getenv("RUNTIME_DIRECTORY");

        return e && e[0] == '/' && !strchr(e, ':') ? e : NULL;
}

void persist_list_add(const Listener *l) {
        char path[PATH_MAX], tmp[PATH_MAX];
        const char *dir = list_dir();
        _cleanup_close_ int fd = -EBADF;
        int r = 0;

        if (!dir || !l->stored)
                return;
        snprintf(path, sizeof path, "%s/listener-%" PRIu64, dir, l->id);
        snprintf(tmp, sizeof tmp, "%s/.listener-%" PRIu64 ".new", dir, l->id);
        /* Written whole, then renamed: the reader never sees half a line. The description has no control
         * character (checked at registration and again on restore), so it cannot make a line of its own in
         * the journal when the list is printed. */
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || dprintf(fd, "%u %s\n", l->owner_uid, l->description) < 0 || rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                log_warning_errno(r, "Listener %" PRIu64 ": failed to add it to %s, it would not be named if "
                                  "it were lost: %m", l->id, dir);
        }
}

static void list_remove(uint64_t id) {
        char path[PATH_MAX];
        const char *dir = list_dir();

        if (!dir)
                return;
        snprintf(path, sizeof path, "%s/listener-%" PRIu64, dir, id);
        if (unlink(path) < 0 && errno != ENOENT)
                log_debug_errno(-errno, "Failed to remove %s: %m", path);
}

void persist_mark_up(bool (*held)(uint64_t id, void *userdata), void *userdata) {
        char path[PATH_MAX];
        const char *dir = list_dir();
        _cleanup_close_ int fd = -EBADF;
        struct dirent *de;
        DIR *d;

        assert(held);

        if (!dir)
                return;
        /* sysbrokerd-stop-post counts the runs that ended before this point: this one got here. */
        snprintf(path, sizeof path, "%s/up", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                log_warning_errno(-errno, "Failed to create %s, a crash now counts as a failed start: %m", path);

        /* Entries of listeners whose sandboxes went away while no daemon ran, or that were dropped, and what a
         * crash left of one being written. */
        d = opendir(dir);
        if (!d)
                return (void) log_warning_errno(-errno, "Failed to open %s: %m", dir);
        while ((de = readdir(d))) {
                const char *e = startswith(de->d_name, "listener-");
                char *end;
                uint64_t id;

                if (!e) {
                        if (startswith(de->d_name, ".listener-"))
                                (void) unlinkat(dirfd(d), de->d_name, 0);
                        continue;
                }
                errno = 0;
                id = strtoull(e, &end, 10);
                if (errno == 0 && end != e && *end == '\0' && held(id, userdata))
                        continue;
                (void) unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

static int store_notify(const char *state, const char *name, uint64_t id, int fd) {
        char message[128];

        snprintf(message, sizeof message, "%s\nFDNAME=%s-%" PRIu64, state, name, id);
        return sd_pid_notify_with_fds(0, false, message, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
}

int persist_listener_store(Listener *l) {
        int r;

        assert(l);

        if (l->state_fd < 0)
                return 0;
        /* The listener is polled: systemd lets go of it by itself once the sandbox is gone (EPOLLHUP). The
         * memfd never hangs up. */
        r = store_notify("FDSTORE=1", "listener", l->id, l->fd);
        if (r > 0)
                r = store_notify("FDSTORE=1\nFDPOLL=0", "state", l->id, l->state_fd);
        if (r < 0)
                return log_warning_errno(r, "Listener %" PRIu64 ": failed to store its fds with the service "
                                         "manager, it will not survive a restart: %m", l->id);
        l->stored = r > 0;
        persist_list_add(l);
        return 0;
}

void persist_listener_save(Listener *l) {
        int r;

        if (l->state_fd < 0)
                return;
        r = persist_write(l);
        if (r < 0)
                log_warning_errno(r, "Listener %" PRIu64 ": failed to save its state, a restart would forget "
                                  "its mounts: %m", l->id);
}

void persist_record_decision(Listener *l, uint64_t id, int32_t kind, int32_t error, int64_t value) {
        PersistHeader *h = l->state;

        if (!h)
                return;
        h->decided_kind = kind;
        h->decided_error = error;
        h->decided_value = value;
        __atomic_store_n(&h->decided_id, id, __ATOMIC_RELEASE);
}

void persist_record_answered(Listener *l, uint64_t id) {
        if (l->state)
                __atomic_store_n(&l->state->answered_id, id, __ATOMIC_RELEASE);
}

void persist_listener_forget(Listener *l) {
        assert(l);

        if (l->state_fd < 0)
                return;
        (void) store_notify("FDSTOREREMOVE=1", "listener", l->id, -EBADF);
        (void) store_notify("FDSTOREREMOVE=1", "state", l->id, -EBADF);
        l->stored = false;
        list_remove(l->id);
}

void persist_listener_close(Listener *l) {
        if (l->state)
                (void) munmap(l->state, sizeof(PersistHeader));
        l->state = NULL;
        l->state_fd = safe_close(l->state_fd);
        free(l->state_registration);
        l->state_registration = NULL;
}

static int read_state(int fd, char **ret_text, PersistHeader *ret_header) {
        _cleanup_free_ char *text = NULL;
        struct stat st;
        ssize_t n;

        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size < PERSIST_TEXT_OFFSET ||
            st.st_size > PERSIST_TEXT_OFFSET + (off_t) PERSIST_TEXT_MAX)
                return -EBADMSG;
        if (pread(fd, ret_header, sizeof *ret_header, 0) != sizeof *ret_header ||
            memcmp(ret_header->magic, PERSIST_MAGIC, sizeof ret_header->magic) != 0)
                return -EBADMSG;
        text = malloc((size_t) (st.st_size - PERSIST_TEXT_OFFSET) + 1);
        if (!text)
                return -ENOMEM;
        n = pread(fd, text, (size_t) (st.st_size - PERSIST_TEXT_OFFSET), PERSIST_TEXT_OFFSET);
        if (n < 0)
                return -errno;
        text[n] = 0;
        if (strlen(text) != (size_t) n)
                return -EBADMSG;
        *ret_text = TAKE_PTR(text);
        return 0;
}

int persist_load(uint64_t id, int state_fd, sd_bus *bus, PersistedListener *ret) {
        _cleanup_(persisted_listener_done) PersistedListener p = {};
        _cleanup_free_ char *text = NULL;
        PersistHeader header;
        int r;

        assert(state_fd >= 0);
        assert(ret);

        r = read_state(state_fd, &text, &header);
        if (r < 0)
                return log_warning_errno(r, "Listener %" PRIu64 ": stored state unreadable: %m", id);
        r = persist_parse(text, bus, &restore_limits, &p);
        if (r < 0)
                return log_warning_errno(r, "Listener %" PRIu64 ": stored state invalid: %m", id);
        if (p.id != id)
                return log_warning_errno(-EBADMSG, "Listener %" PRIu64 ": stored state is of listener %" PRIu64
                                         ".", id, p.id);
        *ret = p;
        p = (PersistedListener) {};
        return 0;
}

void persist_store_remove(const char *name, uint64_t id) {
        assert(name);
        (void) store_notify("FDSTOREREMOVE=1", name, id, -EBADF);
}
