/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Manager interface: RegisterListener (read → validate → authorize every rule → create), ListListeners,
 * Describe and the manager's properties. */

#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sys/syscall.h>
#include <linux/kcmp.h>

#include "bus-dict.h"
#include "caller.h"
#include "config.h"
#include "describe.h"
#include "list.h"
#include "listener.h"
#include "log.h"
#include "message-id.h"
#include "manager.h"
#include "persist.h"
#include "notify.h"
#include "polkit.h"

/* A RegisterListener call waiting for polkit. Nothing exists yet but this: on any "no" it is freed and the
 * duplicated fd closed (invariant 1). */
struct Registration {
        Broker *broker;
        sd_bus_message *call;
        int fd;
        RuleSet *rules;
        char *description;
        bool default_deny;
        uid_t uid;
        uid_t account_uid;         /* whom the limit per user charges */
        pid_t pid;
        bool user_namespace;       /* whether the caller ran in a user namespace other than init's */
        PolkitSubject subject;
        size_t step;               /* 0: the register action; i + 1: rule i */
        Registration *next, *prev;
};

static Registration *registration_free(Registration *reg) {
        if (!reg)
                return NULL;
        if (reg->broker) {
                Broker *b = reg->broker;
                LIST_REMOVE(b->registrations, reg);
                b->n_registrations--;
        }
        sd_bus_message_unref(reg->call);
        safe_close(reg->fd);
        rule_set_free(reg->rules);
        free(reg->description);
        polkit_subject_done(&reg->subject);
        free(reg);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(Registration *, registration_free);

void registration_free_all(Broker *b) {
        assert(b);

        while (b->registrations)
                registration_free(b->registrations);
}

static unsigned count_registrations_of(Broker *b, uid_t account_uid) {
        unsigned n = 0;
        for (Registration *reg = b->registrations; reg; reg = reg->next)
                if (reg->account_uid == account_uid)
                        n++;
        return n;
}

typedef struct Options {
        const BrokerLimits *limits;
        sd_bus_error *error;
        char *description;
        bool default_deny;
} Options;

static int read_option(sd_bus_message *m, const char *key, const char *contents, void *userdata) {
        Options *o = userdata;
        const char *value;
        int r;

        if (!streq(key, "Description") && !streq(key, "DefaultAction"))
                return sd_bus_error_setf(o->error, SD_BUS_ERROR_INVALID_ARGS, "Unknown option '%.64s'", key);
        if (!streq(contents, "s"))
                return sd_bus_error_setf(o->error, SD_BUS_ERROR_INVALID_ARGS, "Option '%s' must be of type 's'",
                                         key);
        r = sd_bus_message_read(m, "v", "s", &value);
        if (r < 0)
                return r;

        if (streq(key, "Description")) {
                if (strlen(value) > o->limits->max_description)
                        return sd_bus_error_setf(o->error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Option 'Description' is longer than %zu bytes",
                                                 o->limits->max_description);
                /* It goes into polkit's authentication dialog: no line of its own making there. */
                if (string_has_control(value))
                        return sd_bus_error_set(o->error, SD_BUS_ERROR_INVALID_ARGS,
                                                "Option 'Description' contains a control character");
                free(o->description);
                o->description = strdup(value);
                return o->description ? 0 : -ENOMEM;
        }
        if (streq(value, "deny"))
                o->default_deny = true;
        else if (streq(value, "continue"))
                o->default_deny = false;
        else
                return sd_bus_error_setf(o->error, SD_BUS_ERROR_INVALID_ARGS,
                                         "Option 'DefaultAction' must be 'continue' or 'deny', not '%.32s'", value);
        return 0;
}

static int read_options(sd_bus_message *m, const BrokerLimits *limits, char **ret_description,
                        bool *ret_default_deny, sd_bus_error *error) {
        Options o = { .limits = limits, .error = error };
        int r;

        r = bus_dict_foreach(m, read_option, &o);
        if (r < 0) {
                free(o.description);
                return r;
        }
        *ret_description = o.description;
        *ret_default_deny = o.default_deny;
        return 0;
}

/* Whether fds a and b of ours are the same open file; false, said once, where kcmp() is not to be had (a
 * kernel without CONFIG_KCMP). */
static bool same_open_file(int a, int b) {
        static bool told;
        pid_t self = getpid();
        long r = syscall(SYS_kcmp, self, self, KCMP_FILE, a, b);

        if (r < 0 && !told) {
                told = true;
                log_warning_errno(-errno, "Cannot compare open files (kcmp), so a listener registered twice is "
                                  "not noticed: %m");
        }
        return r == 0;
}

/* Two fds on the same open file: the same listener registered twice would have two threads answering it. */
static bool listener_already_registered(Broker *b, int fd) {
        for (Listener *l = b->listeners; l; l = l->next)
                if (same_open_file(l->fd, fd))
                        return true;
        for (Registration *reg = b->registrations; reg; reg = reg->next)
                if (same_open_file(reg->fd, fd))
                        return true;
        return false;
}

static void registration_step(Registration *reg);

static const char *polkit_result_field(PolkitResult result) {
        return result == POLKIT_CHALLENGE ? "challenge" : result == POLKIT_ERROR ? "error" : "no";
}

/* Nothing was registered: said with the fields an admin filters by (the caller's uid as the owner it would
 * have been, the description it gave, the polkit action and its answer). */
static void registration_log_refused(const Registration *reg, const char *action, const char *result,
                                     const char *format, ...) _printf_(4, 5);
static void registration_log_refused(const Registration *reg, const char *action, const char *result,
                                     const char *format, ...) {
        _cleanup_free_ char *description = NULL, *action_field = NULL;
        char owner[64], result_field[64], message[1024];
        const char *fields[6];
        size_t n = 0;
        va_list ap;

        if (LOG_INFO > log_get_max_level())
                return;
        fields[n++] = SB_MESSAGE_ID(SB_MESSAGE_REGISTRATION_REFUSED);
        snprintf(owner, sizeof owner, "SYSBROKER_OWNER_UID=%u", reg->uid);
        fields[n++] = owner;
        if (reg->description && reg->description[0] &&
            asprintf(&description, "SYSBROKER_DESCRIPTION=%s", reg->description) >= 0)
                fields[n++] = description;
        if (action && asprintf(&action_field, "SYSBROKER_POLKIT_ACTION=%s", action) >= 0)
                fields[n++] = action_field;
        snprintf(result_field, sizeof result_field, "SYSBROKER_POLKIT_RESULT=%s", result);
        fields[n++] = result_field;
        fields[n] = NULL;

        va_start(ap, format);
        (void) vsnprintf(message, sizeof message, format, ap);
        va_end(ap);
        log_struct(LOG_INFO, fields, message);
}

static void on_registration_authorized(PolkitQuery *q, PolkitResult result, const sd_bus_error *error,
                                       void *userdata) {
        Registration *reg = userdata;

        if (result == POLKIT_NO_ANSWER) {
                /* Nothing was decided, so nothing is registered (invariant 1); unlike a "no", worth a retry. */
                registration_log_refused(reg, polkit_query_action(q), "no-answer",
                                         "Registration by uid %u failed: polkit did not answer the check of "
                                         "'%s'.", reg->uid, polkit_query_action(q));
                (void) sd_bus_reply_method_errorf(reg->call, SD_BUS_ERROR_TIMEOUT,
                                                  "polkit did not answer the check of %s (%s); nothing was "
                                                  "registered, try again later",
                                                  polkit_query_action(q),
                                                  error && error->message ? error->message : "no reply");
                registration_free(reg);
                return;
        }
        if (result != POLKIT_YES) {
                RuleAuthorization a = {};

                if (reg->step == 0)
                        (void) polkit_reply_denied(reg->call, result, error,
                                                   "Not authorized to register a listener (action org.sysbroker.Broker1.register)");
                else {
                        const Rule *rule = &reg->rules->rules[reg->step - 1];
                        _cleanup_free_ char *what = rule_describe(rule);
                        (void) rule_authorization(rule, &a);
                        (void) polkit_reply_denied(reg->call, result, error,
                                                   "Not authorized for rule %zu (%s): action %s",
                                                   reg->step - 1, strempty(what), a.action_id ?: "none");
                        rule_authorization_done(&a);
                }
                if (reg->step == 0)
                        registration_log_refused(reg, polkit_query_action(q), polkit_result_field(result),
                                                 "Registration by uid %u refused: %s for the listener.", reg->uid,
                                                 result == POLKIT_CHALLENGE ? "needs interactive authentication" :
                                                 result == POLKIT_ERROR ? "polkit failed" : "not authorized");
                else
                        registration_log_refused(reg, polkit_query_action(q), polkit_result_field(result),
                                                 "Registration by uid %u refused: %s for rule %zu.", reg->uid,
                                                 result == POLKIT_CHALLENGE ? "needs interactive authentication" :
                                                 result == POLKIT_ERROR ? "polkit failed" : "not authorized",
                                                 reg->step - 1);
                registration_free(reg);
                return;
        }

        reg->step++;
        registration_step(reg);
}

static void registration_finish(Registration *reg) {
        Broker *b = reg->broker;
        Listener *l;
        int r;

        r = listener_new(b, reg->fd, reg->rules, reg->uid, reg->account_uid, reg->pid, reg->description,
                         reg->default_deny, /* root= */ NULL, NULL, &l);
        if (r < 0) {
                log_error_errno(r, "Failed to create listener for uid %u: %m", reg->uid);
                (void) sd_bus_reply_method_errnof(reg->call, r, "Failed to create listener: %m");
                registration_free(reg);
                return;
        }
        reg->fd = -EBADF;          /* owned by the listener now */
        reg->rules = NULL;
        /* Without it the owner only misses RuleRefused; the journal still says each refusal. */
        r = listener_set_owner_bus(l, reg->call);
        if (r < 0)
                log_warning_errno(r, "Listener %" PRIu64 ": cannot remember its owner's connection, its refusals "
                                  "go to the journal only: %m", l->id);

        listener_log(l, LOG_INFO, SB_MESSAGE_LISTENER_REGISTERED, NULL,
                     "Listener %" PRIu64 " registered by uid %u pid %i%s%s%s, %zu rule(s), default %s.", l->id,
                     l->owner_uid, l->owner_pid, l->description[0] ? " ('" : "", l->description,
                     l->description[0] ? "')" : "", l->rules->n_rules, l->default_deny ? "deny" : "continue");
        (void) persist_listener_store(l);
        (void) sd_bus_reply_method_return(reg->call, "ot", l->object_path, l->id);
        registration_free(reg);
        listener_announce(l);
}

/* One polkit query per step: step 0 is the register action, step i+1 the i-th rule; rules that grant
 * nothing are skipped. The first "no" ends it. */
static void registration_step(Registration *reg) {
        char owner_uid[12];        /* a uid_t in decimal */
        int r;

        (void) snprintf(owner_uid, sizeof owner_uid, "%u", reg->uid);

        for (;;) {
                const char *details[(RULE_DETAILS_MAX + 2) * 2 + 1];
                const char *action;
                RuleAuthorization a = {};
                char rules[32];
                size_t n = 0;

                if (reg->step == 0) {
                        snprintf(rules, sizeof rules, "%zu", reg->rules->n_rules);
                        details[n++] = "default-action";
                        details[n++] = reg->default_deny ? "deny" : "continue";
                        details[n++] = "rules";
                        details[n++] = rules;
                        if (reg->description && reg->description[0]) {
                                details[n++] = "description";
                                details[n++] = reg->description;
                        }
                        action = SYSBROKER_POLKIT_ACTION_REGISTER;
                } else if (reg->step <= reg->rules->n_rules) {
                        r = rule_authorization(&reg->rules->rules[reg->step - 1], &a);
                        if (r < 0) {
                                (void) sd_bus_reply_method_errnof(reg->call, r, "Failed to describe rule: %m");
                                registration_free(reg);
                                return;
                        }
                        if (!a.action_id) {
                                reg->step++;
                                continue;
                        }
                        action = a.action_id;
                        for (const char *const *d = a.details; *d; d++)
                                details[n++] = *d;
                } else {
                        registration_finish(reg);
                        return;
                }

                /* What bounds a rule for callers without a session (a container, a CI job): whose listener it
                 * will be (polkit gives rules only the user's name), and whether the caller runs in a user
                 * namespace, where it is root of its own. */
                details[n++] = "owner-uid";
                details[n++] = owner_uid;
                details[n++] = "user-namespace";
                details[n++] = reg->user_namespace ? "yes" : "no";
                details[n] = NULL;

                r = polkit_check(reg->broker, reg->call, &reg->subject, action, details, true,
                                 on_registration_authorized, reg);
                if (reg->step > 0)
                        rule_authorization_done(&a);
                if (r == -ENOBUFS)
                        (void) sd_bus_reply_method_errorf(reg->call, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                                          "Too many authorization checks pending for this user");
                else if (r < 0) {
                        log_error_errno(r, "Failed to ask polkit: %m");
                        (void) sd_bus_reply_method_errnof(reg->call, r, "Failed to ask polkit: %m");
                }
                if (r < 0)
                        registration_free(reg);
                return;
        }
}

static int method_register_listener(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(registration_freep) Registration *reg = NULL;
        _cleanup_free_ char *rule_error = NULL;
        Broker *b = userdata;
        Caller caller;
        struct pollfd p;
        int fd, r;

        broker_mark_active(b);

        /* Read and validate everything first; nothing changes state before polkit said yes. */
        r = sd_bus_message_read(m, "h", &fd);
        if (r < 0)
                return r;

        reg = calloc(1, sizeof *reg);
        if (!reg)
                return -ENOMEM;
        reg->fd = -EBADF;
        reg->subject = POLKIT_SUBJECT_NULL;

        r = rule_set_parse(m, &b->limits.rules, &reg->rules, &rule_error);
        if (r == -E2BIG)
                return sd_bus_error_set(error, SD_BUS_ERROR_LIMITS_EXCEEDED, rule_error);
        if (r == -EINVAL && rule_error)
                return sd_bus_error_set(error, BROKER_ERROR_INVALID_RULE, rule_error);
        if (r < 0)
                return r;

        r = read_options(m, &b->limits, &reg->description, &reg->default_deny, error);
        if (r < 0)
                return r;

        r = fd_is_seccomp_listener(fd);
        if (r < 0)
                return r;
        if (r == 0)
                return sd_bus_error_set(error, BROKER_ERROR_NOT_A_LISTENER,
                                        "The file descriptor is not a seccomp user-notification listener");
        p = (struct pollfd) { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 0) < 0)
                return -errno;
        if ((p.revents & POLLHUP) && !(p.revents & POLLIN))
                return sd_bus_error_set(error, BROKER_ERROR_NOT_A_LISTENER,
                                        "The seccomp listener has no tasks left (the sandbox exited)");
        if (listener_already_registered(b, fd))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "This listener is already registered");

        r = caller_get(b, m, &caller);
        if (r < 0)
                return r;

        if (b->n_registrations + b->n_listeners >= b->limits.max_listeners)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED, "Too many listeners (at most %u)",
                                         b->limits.max_listeners);
        /* Per user, with the subordinate uids it runs processes as (account_uid_of()). */
        if (listener_count_of(b, caller.account_uid) + count_registrations_of(b, caller.account_uid) >=
            b->limits.max_listeners_per_user)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many listeners for uid %u (at most %u)", caller.account_uid,
                                         b->limits.max_listeners_per_user);

        /* Cannot be told only if the caller is gone: nothing to register for. */
        r = caller_in_user_namespace(&caller);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot tell whether the caller runs in a user "
                                               "namespace: %m");
        reg->user_namespace = r;

        reg->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (reg->fd < 0)
                return -errno;
        r = caller_get_polkit_subject(&caller, &reg->subject);
        if (r < 0)
                return r;
        reg->uid = caller.uid;
        reg->account_uid = caller.account_uid;
        reg->pid = caller.pid;
        reg->call = sd_bus_message_ref(m);

        reg->broker = b;
        LIST_PREPEND(b->registrations, reg);
        b->n_registrations++;

        registration_step(TAKE_PTR(reg));
        return 1;
}

static bool caller_sees_listener(const Caller *caller, const Listener *l, bool manage) {
        return manage || caller->uid == 0 || caller->uid == l->owner_uid;
}

static int reply_listeners(sd_bus_message *call, Broker *b, const Caller *caller, bool manage) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(call, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(tous)");
        if (r < 0)
                return r;
        for (Listener *l = b->listeners; l; l = l->next) {
                if (l->removed || !caller_sees_listener(caller, l, manage))
                        continue;
                r = sd_bus_message_append(reply, "(tous)", l->id, l->object_path, (uint32_t) l->owner_uid,
                                          l->description);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

typedef int (*ListingReply)(sd_bus_message *call, Broker *b, const Caller *caller, bool manage);

typedef struct Visibility {
        const Caller *caller;
        bool manage;
} Visibility;

static DescribeVisibility visibility_for(const Listener *l, const void *userdata) {
        const Visibility *v = userdata;

        /* As listener_visible_to_caller() shows objects, and ListListeners lists the rest to a manager. */
        if (caller_sees_listener(v->caller, l, false))
                return DESCRIBE_FULL;
        return v->manage ? DESCRIBE_SUMMARY : DESCRIBE_HIDDEN;
}

static int reply_describe(sd_bus_message *call, Broker *b, const Caller *caller, bool manage) {
        _cleanup_free_ char *json = NULL;
        int r;

        r = describe_broker(b, sd_bus_message_get_bus(call), visibility_for,
                            &(Visibility) { .caller = caller, .manage = manage }, &json);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(call, "s", json);
}

static void on_listing_authorized(PolkitQuery *q, PolkitResult result, const sd_bus_error *error,
                                  void *userdata) {
        sd_bus_message *call = polkit_query_message(q);
        ListingReply reply = (ListingReply) userdata;
        Caller caller;
        int r;

        /* Without manage the caller still gets its own listeners: not an error. */
        r = caller_get(polkit_query_broker(q), call, &caller);
        if (r >= 0)
                r = reply(call, polkit_query_broker(q), &caller, result == POLKIT_YES);
        if (r < 0)
                (void) sd_bus_reply_method_errnof(call, r, "Failed to list listeners: %m");
}

/* ListListeners and Describe show the same listeners: the caller's own (root: all), and everybody's with
 * manage, asked only if someone else holds one. */
static int reply_listing(sd_bus_message *m, Broker *b, ListingReply reply) {
        Caller caller;
        bool foreign = false;
        int r;

        broker_mark_active(b);
        r = caller_get(b, m, &caller);
        if (r < 0)
                return r;

        for (Listener *l = b->listeners; l; l = l->next)
                if (!l->removed && !caller_sees_listener(&caller, l, false))
                        foreign = true;
        /* Never an authentication dialog for a list: a user who lists its own listeners should not be asked
         * for an administrator's password because someone else holds one too. */
        if (foreign) {
                r = caller_check_polkit(b, m, &caller, SYSBROKER_POLKIT_ACTION_MANAGE, NULL, false,
                                        on_listing_authorized, (void *) reply);
                /* Too many checks pending: the caller still gets its own listeners. */
                if (r == -ENOBUFS)
                        return reply(m, b, &caller, false);
                return r;
        }

        return reply(m, b, &caller, false);
}

static int method_list_listeners(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return reply_listing(m, userdata, reply_listeners);
}

static int method_describe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return reply_listing(m, userdata, reply_describe);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_kernel_features(sd_bus *bus, const char *path, const char *interface,
                                        const char *property, sd_bus_message *reply, void *userdata,
                                        sd_bus_error *error) {
        Broker *b = userdata;
        int r;

        r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        for (KernelFeature f = 0; f < _KERNEL_FEATURE_MAX; f++)
                if (b->kernel_features & (1u << f)) {
                        r = sd_bus_message_append(reply, "s", kernel_feature_to_string(f));
                        if (r < 0)
                                return r;
                }
        return sd_bus_message_close_container(reply);
}

const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("KernelFeatures", "as", property_get_kernel_features, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("NListeners", "u", NULL, offsetof(Broker, n_listeners),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("RegisterListener",
                                SD_BUS_ARGS("h", listener, "aa{sv}", rules, "a{sv}", options),
                                SD_BUS_RESULT("o", path, "t", id),
                                method_register_listener,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListListeners",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(tous)", listeners),
                                method_list_listeners,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Describe",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("s", json),
                                method_describe,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("ListenerAdded", SD_BUS_ARGS("t", id, "o", path), 0),
        SD_BUS_SIGNAL_WITH_ARGS("ListenerRemoved", SD_BUS_ARGS("t", id, "o", path, "s", reason), 0),
        SD_BUS_VTABLE_END
};
