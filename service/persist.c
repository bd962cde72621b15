/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Listener state across restarts: the state memfd's text format, the file descriptor store, and restoring. */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"
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

void persisted_listener_done(PersistedListener *p) {
        free(p->description);
        rule_set_free(p->rules);
        *p = (PersistedListener) {};
}

/* Strings as hex: any byte survives, one token per string. */
static void put_hex(FILE *f, const char *s) {
        if (!*s)
                fputc('-', f);
        for (; *s; s++)
                fprintf(f, "%02x", (unsigned char) *s);
}

static char *get_hex(const char *token) {
        size_t l = strlen(token);
        char *s;

        if (streq(token, "-"))
                return strdup("");
        if (l % 2 != 0)
                return NULL;
        s = malloc(l / 2 + 1);
        if (!s)
                return NULL;
        for (size_t i = 0; i < l / 2; i++) {
                unsigned v;
                if (sscanf(token + 2 * i, "%2x", &v) != 1 || v == 0) {
                        free(s);
                        return NULL;
                }
                s[i] = (char) v;
        }
        s[l / 2] = 0;
        return s;
}

/* One rule key: "key TYPE NAME VALUE...", for the types rules use (s, u, i, b, as). */
static int format_rule_key(FILE *f, sd_bus_message *m) {
        const char *key, *contents;
        int r;

        r = sd_bus_message_read(m, "s", &key);
        if (r < 0)
                return r;
        r = sd_bus_message_peek_type(m, NULL, &contents);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'v', contents);
        if (r < 0)
                return r;
        fprintf(f, "key %s %s ", contents, key);
        if (streq(contents, "s")) {
                const char *s;
                r = sd_bus_message_read(m, "s", &s);
                if (r >= 0)
                        put_hex(f, s);
        } else if (streq(contents, "u")) {
                uint32_t u;
                r = sd_bus_message_read(m, "u", &u);
                fprintf(f, "%" PRIu32, u);
        } else if (streq(contents, "i")) {
                int32_t i;
                r = sd_bus_message_read(m, "i", &i);
                fprintf(f, "%" PRIi32, i);
        } else if (streq(contents, "b")) {
                int b;
                r = sd_bus_message_read(m, "b", &b);
                fprintf(f, "%i", !!b);
        } else if (streq(contents, "as")) {
                char **v = NULL;
                size_t n = 0;
                r = sd_bus_message_read_strv(m, &v);
                for (char **s = v; s && *s; s++)
                        n++;
                fprintf(f, "%zu", n);
                for (char **s = v; s && *s; s++) {
                        fputc(' ', f);
                        put_hex(f, *s);
                        free(*s);
                }
                free(v);
        } else
                r = -EINVAL;
        fputc('\n', f);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

int persist_format_registration(const Listener *l, sd_bus *bus, char **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        /* The rules exactly as the D-Bus API carries them, so that reading them back goes through the same
         * validation as a registration. */
        r = sd_bus_message_new_method_call(bus, &m, NULL, "/", "org.sysbroker.State", "Rules");
        if (r >= 0)
                r = rule_set_append(m, l->rules);
        if (r >= 0)
                r = sd_bus_message_seal(m, 1, 0);
        if (r >= 0)
                r = sd_bus_message_rewind(m, true);
        if (r < 0)
                return r;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "id %" PRIu64 "\nowner-uid %u\nowner-pid %i\ndefault-action %s\ndescription ", l->id,
                l->owner_uid, (int) l->owner_pid, l->default_deny ? "deny" : "continue");
        put_hex(f, l->description);
        fputc('\n', f);

        r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'a', "{sv}")) > 0) {
                fputs("rule\n", f);
                while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                        r = format_rule_key(f, m);
                        if (r < 0)
                                break;
                        r = sd_bus_message_exit_container(m);
                        if (r < 0)
                                break;
                }
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                fputs("end\n", f);
        }
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0)
                return r;
        *ret = TAKE_PTR(text);
        return 0;
}

/* Appends "key TYPE NAME VALUE..." (tokens, split in place) to m as one {sv} entry. */
static int parse_rule_key(sd_bus_message *m, char **tokens, size_t n) {
        _cleanup_free_ char *s = NULL;
        const char *type = tokens[1], *name = tokens[2];
        int r;

        if (n < 4)
                return -EINVAL;
        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", name);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', type);
        if (r < 0)
                return r;
        if (streq(type, "s")) {
                s = get_hex(tokens[3]);
                r = s ? sd_bus_message_append(m, "s", s) : -EINVAL;
        } else if (streq(type, "u"))
                r = sd_bus_message_append(m, "u", (uint32_t) strtoul(tokens[3], NULL, 10));
        else if (streq(type, "i"))
                r = sd_bus_message_append(m, "i", (int32_t) strtol(tokens[3], NULL, 10));
        else if (streq(type, "b"))
                r = sd_bus_message_append(m, "b", (int) streq(tokens[3], "1"));
        else if (streq(type, "as")) {
                size_t k = strtoul(tokens[3], NULL, 10);
                if (k != n - 4)
                        return -EINVAL;
                r = sd_bus_message_open_container(m, 'a', "s");
                for (size_t i = 0; r >= 0 && i < k; i++) {
                        _cleanup_free_ char *e = get_hex(tokens[4 + i]);
                        r = e ? sd_bus_message_append(m, "s", e) : -EINVAL;
                }
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        } else
                r = -EINVAL;
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

int persist_parse(const char *text, sd_bus *bus, const RuleLimits *limits, PersistedListener *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_free_ char *copy = strdup(text), *error = NULL;
        PersistedListener p = { .owner_pid = 0 };
        unsigned seen = 0;
        bool in_rule = false;
        int r;

        if (!copy)
                return -ENOMEM;
        r = sd_bus_message_new_method_call(bus, &m, NULL, "/", "org.sysbroker.State", "Rules");
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;

        for (char *line = copy, *next; r >= 0 && line && *line; line = next) {
                char *tokens[4 + RULE_STRV_MAX + 1];
                size_t n = 0;

                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                char *save = NULL;
                for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
                        if (n >= ELEMENTSOF(tokens)) {
                                r = -EINVAL;
                                break;
                        }
                        tokens[n++] = t;
                }
                if (r < 0 || n == 0)
                        continue;

                if (streq(tokens[0], "rule") && !in_rule) {
                        r = sd_bus_message_open_container(m, 'a', "{sv}");
                        in_rule = true;
                } else if (streq(tokens[0], "end") && in_rule) {
                        r = sd_bus_message_close_container(m);
                        in_rule = false;
                } else if (streq(tokens[0], "key") && in_rule)
                        r = parse_rule_key(m, tokens, n);
                else if (in_rule || n < 2)
                        r = -EINVAL;
                else if (streq(tokens[0], "id")) {
                        p.id = strtoull(tokens[1], NULL, 10);
                        seen |= 1;
                } else if (streq(tokens[0], "owner-uid")) {
                        p.owner_uid = (uid_t) strtoul(tokens[1], NULL, 10);
                        seen |= 2;
                } else if (streq(tokens[0], "owner-pid"))
                        p.owner_pid = (pid_t) strtol(tokens[1], NULL, 10);
                else if (streq(tokens[0], "default-action")) {
                        p.default_deny = streq(tokens[1], "deny");
                        seen |= 4;
                } else if (streq(tokens[0], "description")) {
                        free(p.description);
                        p.description = get_hex(tokens[1]);
                        if (!p.description)
                                r = -EINVAL;
                } else if (streq(tokens[0], "mount") && (n == 4 || n == 5)) {
                        if (p.n_mounts >= LISTENER_MOUNTS_MAX)
                                r = -E2BIG;
                        else
                                p.mounts[p.n_mounts++] = (ListenerMount) {
                                        .mnt_id = strtoull(tokens[1], NULL, 10),
                                        .rule_index = strtoul(tokens[2], NULL, 10),
                                        .kept_flags = strtoul(tokens[3], NULL, 10) & MOUNT_FLAGS_NAMED,
                                        .mntns_id = n == 5 ? strtoull(tokens[4], NULL, 10) : 0,
                                };
                } else
                        r = -EINVAL;
        }
        if (r >= 0 && (in_rule || seen != 7 || p.id == 0))
                r = -EINVAL;
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_seal(m, 1, 0);
        if (r >= 0)
                r = sd_bus_message_rewind(m, true);
        if (r >= 0)
                r = rule_set_parse(m, limits, &p.rules, &error);
        for (size_t i = 0; r >= 0 && i < p.n_mounts; i++)
                if (p.mounts[i].rule_index >= p.rules->n_rules ||
                    p.rules->rules[p.mounts[i].rule_index].syscall != RULE_SYSCALL_MOUNT)
                        r = -EINVAL;
        if (r < 0) {
                if (error)
                        log_warning("Stored listener state has invalid rules: %s", error);
                persisted_listener_done(&p);
                return r;
        }
        if (!p.description) {
                p.description = strdup("");
                if (!p.description) {
                        persisted_listener_done(&p);
                        return -ENOMEM;
                }
        }
        *ret = p;
        return 0;
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
        if (fclose(f) != 0)
                return -ENOMEM;
        if (size > PERSIST_TEXT_MAX)
                return -EFBIG;

        /* A crash in between leaves a shorter or longer text; the reader validates whatever it finds. */
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

static int store_notify(const char *state, const char *name, uint64_t id, int fd) {
        char message[128];

        snprintf(message, sizeof message, "%s\nFDNAME=%s-%" PRIu64, state, name, id);
        return sd_pid_notify_with_fds(0, false, message, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
}

int persist_listener_store(Listener *l) {
        int r;

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

void persist_listener_forget(Listener *l) {
        if (l->state_fd < 0)
                return;
        (void) store_notify("FDSTOREREMOVE=1", "listener", l->id, -EBADF);
        (void) store_notify("FDSTOREREMOVE=1", "state", l->id, -EBADF);
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

static int restore_one(Broker *b, uint64_t id, int listener_fd, int state_fd) {
        _cleanup_(persisted_listener_done) PersistedListener p = {};
        _cleanup_free_ char *text = NULL;
        PersistHeader header;
        Listener *l;
        int r;

        r = read_state(state_fd, &text, &header);
        if (r < 0)
                return log_warning_errno(r, "Listener %" PRIu64 ": stored state unreadable: %m", id);
        r = persist_parse(text, b->system_bus, &restore_limits, &p);
        if (r < 0)
                return log_warning_errno(r, "Listener %" PRIu64 ": stored state invalid: %m", id);
        if (p.id != id)
                return log_warning_errno(-EBADMSG, "Listener %" PRIu64 ": stored state is of listener %" PRIu64
                                         ".", id, p.id);
        r = fd_is_seccomp_listener(listener_fd);
        if (r <= 0)
                return log_warning_errno(r < 0 ? r : -EBADF, "Listener %" PRIu64 ": stored fd is not a seccomp "
                                         "listener.", id);

        r = listener_new(b, listener_fd, p.rules, p.owner_uid, p.owner_pid, p.description, p.default_deny,
                         &(ListenerRestore) {
                                 .id = p.id,
                                 .state_fd = state_fd,
                                 .mounts = p.mounts,
                                 .n_mounts = p.n_mounts,
                         }, &l);
        if (r < 0)
                return log_warning_errno(r, "Listener %" PRIu64 ": cannot be restored: %m", id);
        p.rules = NULL; /* the listener's now */
        log_info("Listener %" PRIu64 " of uid %u restored after a restart, %zu rule(s), %zu mount(s).", l->id,
                 l->owner_uid, l->rules->n_rules, l->n_mounts);
        listener_announce(l);
        return 0;
}

static int find_named(char **names, size_t n, const char *prefix, uint64_t id) {
        char want[64];

        snprintf(want, sizeof want, "%s-%" PRIu64, prefix, id);
        for (size_t i = 0; i < n; i++)
                if (names[i] && streq(names[i], want))
                        return (int) i;
        return -1;
}

int persist_restore(Broker *b, int *fds, char **names, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const char *e;
                uint64_t id;
                int s;

                if (fds[i] < 0 || !names[i] || !(e = startswith(names[i], "listener-")))
                        continue;
                id = strtoull(e, NULL, 10);
                s = find_named(names, n, "state", id);
                if (s >= 0 && fds[s] < 0)
                        s = -1;
                if (s < 0 || restore_one(b, id, fds[i], fds[s]) < 0) {
                        /* Nothing to serve it with: let it go, the sandbox then gets ENOSYS. By name: not if
                         * that name is a listener restored just now (a duplicate never stored by us). */
                        log_warning("Listener %" PRIu64 " from before the restart is dropped.", id);
                        if (!broker_find_listener(b, id)) {
                                (void) store_notify("FDSTOREREMOVE=1", "listener", id, -EBADF);
                                (void) store_notify("FDSTOREREMOVE=1", "state", id, -EBADF);
                        }
                        safe_close(fds[i]);
                        if (s >= 0)
                                safe_close(fds[s]);
                }
                fds[i] = -EBADF;
                if (s >= 0)
                        fds[s] = -EBADF;
        }

        /* A state without its listener: the sandbox went away while we were down. */
        for (size_t i = 0; i < n; i++) {
                const char *e;

                if (fds[i] < 0 || !names[i] || !(e = startswith(names[i], "state-")))
                        continue;
                (void) store_notify("FDSTOREREMOVE=1", "state", strtoull(e, NULL, 10), -EBADF);
                fds[i] = safe_close(fds[i]);
        }
        return 0;
}
