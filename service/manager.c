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

/* A registration asks polkit about the register action and each rule that grants something: its checks, one
 * per distinct action and details (rules that would ask the same are asked once). All are asked at once
 * without interaction; those that would say yes after authentication ("challenge") are then asked again one
 * at a time with interaction, in rule order, if the caller allows it. A check in flight or queued at polkit
 * counts against the caller's bound there (polkit.c), so one registration keeps at most this many at polkit
 * and asks the next as each answers: polkitd answers one check at a time anyway, so this many keeps it as
 * busy as 65 would. And only one check of a registration ever waits in the user's polkit queue (the first,
 * or the one that takes an answered one's place); the others are asked only when they go to polkitd at once.
 * That queue is sized for one check per registration (the listener limit per user): a burst of
 * registrations with many rules each would otherwise fill it and have the user's later registrations
 * refused, where one after the other they are all served. */
#define REGISTRATION_MAX_CHECKS_AT_ONCE POLKIT_MAX_QUERIES_PER_USER

typedef struct RegistrationCheck {
        Registration *reg;
        size_t position;           /* the first that asks it: 0 the register action, i + 1 rule i */
        char *key;                 /* action and details, to find identical ones */
        PolkitQuery *query;        /* while polkit is asked */
        bool answered;
        PolkitResult result;
        sd_bus_error error;        /* why polkit failed, for the reply */
} RegistrationCheck;

/* A RegisterListener call waiting for polkit. Nothing exists yet but this: on any "no" it is freed and the
 * duplicated fd closed (invariant 1). */
struct Registration {
        Broker *broker;
        sd_bus_message *call;
        int fd;
        RuleSet *rules;
        char *description;
        bool default_deny;
        bool may_interact;         /* the caller allows interactive authorization */
        uid_t uid;
        uid_t account_uid;         /* whom the limit per user charges */
        pid_t pid;
        bool user_namespace;       /* whether the caller ran in a user namespace other than init's */
        char owner_uid_detail[12]; /* uid, in decimal, for polkit's "owner-uid" */
        PolkitSubject subject;
        RegistrationCheck *checks; /* in the order of their first position */
        size_t n_checks;
        size_t n_asked;            /* checks[0 .. n_asked) were asked (without interaction) */
        size_t n_pending;          /* of those, not answered yet */
        bool interacting;          /* asking the challenged ones again, one at a time */
        size_t interactive_next;   /* the check asked, or to ask, with interaction */
        char *container_id;        /* from the OCI socket (oci.c): call is a stand-in nobody reads, the
                                    * outcome is only logged, naming the container */
        char *root;                /* the sandbox's "/" in our view (listener_new()); NULL: ours */
        Registration *next, *prev;
};

/* Answers nobody waits for any more (the registration was decided, or the daemon exits). */
static void registration_abandon_checks(Registration *reg) {
        for (size_t i = 0; i < reg->n_checks; i++) {
                polkit_query_abandon(reg->checks[i].query);
                reg->checks[i].query = NULL;
        }
}

static Registration *registration_free(Registration *reg) {
        if (!reg)
                return NULL;
        if (reg->broker) {
                Broker *b = reg->broker;
                LIST_REMOVE(b->registrations, reg);
                b->n_registrations--;
        }
        registration_abandon_checks(reg);
        for (size_t i = 0; i < reg->n_checks; i++) {
                free(reg->checks[i].key);
                sd_bus_error_free(&reg->checks[i].error);
        }
        free(reg->checks);
        sd_bus_message_unref(reg->call);
        safe_close(reg->fd);
        rule_set_free(reg->rules);
        free(reg->description);
        free(reg->container_id);
        free(reg->root);
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

/* Names the container in the log lines of an OCI registration, whose runtime hears no answer. */
#define CONTAINER_FMT "%s%s%s"
#define CONTAINER_ARGS(reg)                                                                               \
        (reg)->container_id ? " for OCI container '" : "", strempty((reg)->container_id),                \
        (reg)->container_id ? "'" : ""

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

/* Entries of a check's details: the register action's 3 pairs or a rule's, the 2 pairs every check carries,
 * and the NULL. */
#define CHECK_DETAILS_MAX ((MAX(RULE_DETAILS_MAX, 3) + 2) * 2 + 1)

/* What position asks polkit (0: the register action, i + 1: rule i): *ret_action NULL if that rule grants
 * nothing. details_buf holds the details; a holds a rule's strings (for rule_authorization_done()). Every
 * check also says what bounds a rule for callers without a session (a container, a CI job): whose listener it
 * will be (polkit gives rules only the user's name), and whether the caller runs in a user namespace, where it
 * is root of its own. */
static int registration_check_args(Registration *reg, size_t position,
                                   const char *details_buf[static CHECK_DETAILS_MAX], char rules_buf[static 32],
                                   RuleAuthorization *a, const char **ret_action, const char *const **ret_details) {
        size_t n = 0;
        int r;

        if (position == 0) {
                snprintf(rules_buf, 32, "%zu", reg->rules->n_rules);
                details_buf[n++] = "default-action";
                details_buf[n++] = reg->default_deny ? "deny" : "continue";
                details_buf[n++] = "rules";
                details_buf[n++] = rules_buf;
                if (reg->description && reg->description[0]) {
                        details_buf[n++] = "description";
                        details_buf[n++] = reg->description;
                }
                *ret_action = SYSBROKER_POLKIT_ACTION_REGISTER;
        } else {
                r = rule_authorization(&reg->rules->rules[position - 1], a);
                if (r < 0)
                        return r;
                *ret_action = a->action_id;
                for (const char *const *d = a->details; *d; d++)
                        details_buf[n++] = *d;
        }
        details_buf[n++] = "owner-uid";
        details_buf[n++] = reg->owner_uid_detail;
        details_buf[n++] = "user-namespace";
        details_buf[n++] = reg->user_namespace ? "yes" : "no";
        details_buf[n] = NULL;
        *ret_details = details_buf;
        return 0;
}

/* Action and details as one string without ambiguity (each part prefixed with its length). */
static char *check_key(const char *action, const char *const *details) {
        _cleanup_free_ char *key = NULL;
        size_t len = 0;
        FILE *f;

        f = open_memstream(&key, &len);
        if (!f)
                return NULL;
        fprintf(f, "%zu:%s", strlen(action), action);
        for (const char *const *d = details; d && d[0] && d[1]; d += 2)
                fprintf(f, "%zu:%s%zu:%s", strlen(d[0]), d[0], strlen(d[1]), d[1]);
        if (fclose(f) != 0)
                return NULL;
        return TAKE_PTR(key);
}

/* One check per distinct action and details, in rule order; rules that grant nothing ask nothing. */
static int registration_plan_checks(Registration *reg) {
        size_t n_positions = reg->rules->n_rules + 1;

        reg->checks = calloc(n_positions, sizeof *reg->checks);
        if (!reg->checks)
                return -ENOMEM;
        for (size_t position = 0; position < n_positions; position++) {
                _cleanup_free_ char *key = NULL;
                const char *details_buf[CHECK_DETAILS_MAX], *action;
                const char *const *details;
                RuleAuthorization a = {};
                char rules_buf[32];
                bool seen = false;
                int r;

                r = registration_check_args(reg, position, details_buf, rules_buf, &a, &action, &details);
                if (r < 0)
                        return r;
                key = action ? check_key(action, details) : NULL;
                rule_authorization_done(&a);
                if (!action)
                        continue;
                if (!key)
                        return -ENOMEM;
                for (size_t i = 0; i < reg->n_checks && !seen; i++)
                        seen = streq(reg->checks[i].key, key);
                if (seen)
                        continue;
                reg->checks[reg->n_checks++] = (RegistrationCheck) {
                        .reg = reg,
                        .position = position,
                        .key = TAKE_PTR(key),
                        .error = SD_BUS_ERROR_NULL,
                };
        }
        return 0;
}

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
        _cleanup_free_ char *container = NULL;
        const char *fields[7];
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
        if (reg->container_id && asprintf(&container, "SYSBROKER_OCI_CONTAINER=%s", reg->container_id) >= 0)
                fields[n++] = container;
        fields[n] = NULL;

        va_start(ap, format);
        (void) vsnprintf(message, sizeof message, format, ap);
        va_end(ap);
        log_struct(LOG_INFO, fields, message);
}

/* The reply and the log lines of a registration refused by check c; then it is gone. Kept apart from the
 * polkit steps, like registration_reply_failed(), for registrations whose answer goes elsewhere. */
static void registration_refuse(Registration *reg, RegistrationCheck *c) {
        const sd_bus_error *error = sd_bus_error_is_set(&c->error) ? &c->error : NULL;
        PolkitResult result = c->result;

        if (result == POLKIT_NO_ANSWER) {
                const char *details_buf[CHECK_DETAILS_MAX], *action = NULL;
                const char *const *details;
                RuleAuthorization a = {};
                char rules_buf[32];

                (void) registration_check_args(reg, c->position, details_buf, rules_buf, &a, &action,
                                               &details);
                /* Nothing was decided, so nothing is registered (invariant 1); unlike a "no", worth a retry. */
                registration_log_refused(reg, action, "no-answer",
                                         "Registration by uid %u" CONTAINER_FMT " failed: polkit did not "
                                         "answer the check of '%s'.", reg->uid, CONTAINER_ARGS(reg),
                                         action ?: "n/a");
                (void) sd_bus_reply_method_errorf(reg->call, SD_BUS_ERROR_TIMEOUT,
                                                  "polkit did not answer the check of %s (%s); nothing was "
                                                  "registered, try again later",
                                                  action ?: "n/a",
                                                  error && error->message ? error->message : "no reply");
                rule_authorization_done(&a);
                registration_free(reg);
                return;
        }

        if (c->position == 0)
                (void) polkit_reply_denied(reg->call, result, error,
                                           "Not authorized to register a listener (action org.sysbroker.Broker1.register)");
        else {
                const Rule *rule = &reg->rules->rules[c->position - 1];
                _cleanup_free_ char *what = rule_describe(rule);
                RuleAuthorization a = {};

                (void) rule_authorization(rule, &a);
                (void) polkit_reply_denied(reg->call, result, error,
                                           "Not authorized for rule %zu (%s): action %s", c->position - 1,
                                           strempty(what), a.action_id ?: "none");
                rule_authorization_done(&a);
        }
        if (c->position == 0)
                registration_log_refused(reg, SYSBROKER_POLKIT_ACTION_REGISTER, polkit_result_field(result),
                                         "Registration by uid %u" CONTAINER_FMT " refused: %s for the "
                                         "listener.", reg->uid, CONTAINER_ARGS(reg),
                                         result == POLKIT_CHALLENGE ? "needs interactive authentication" :
                                         result == POLKIT_ERROR ? "polkit failed" : "not authorized");
        else {
                RuleAuthorization a = {};

                (void) rule_authorization(&reg->rules->rules[c->position - 1], &a);
                registration_log_refused(reg, a.action_id, polkit_result_field(result),
                                         "Registration by uid %u" CONTAINER_FMT " refused: %s for rule %zu.",
                                         reg->uid, CONTAINER_ARGS(reg),
                                         result == POLKIT_CHALLENGE ? "needs interactive authentication" :
                                         result == POLKIT_ERROR ? "polkit failed" : "not authorized",
                                         c->position - 1);
                rule_authorization_done(&a);
        }
        registration_free(reg);
}

/* The registration failed for a reason of the daemon's (r) or of the bound at polkit (-ENOBUFS). */
static void registration_reply_failed(Registration *reg, int r, const char *what) {
        if (r == -ENOBUFS && reg->container_id)
                log_warning("Registration by uid %u" CONTAINER_FMT " refused: too many authorization checks "
                            "pending for this user.", reg->uid, CONTAINER_ARGS(reg));
        if (r == -ENOBUFS)
                (void) sd_bus_reply_method_errorf(reg->call, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                                  "Too many authorization checks pending for this user");
        else {
                log_error_errno(r, "%s%s%s%s: %m", what, CONTAINER_ARGS(reg));
                (void) sd_bus_reply_method_errnof(reg->call, r, "%s: %m", what);
        }
        registration_free(reg);
}

static void registration_reply_registered(Registration *reg, Listener *l) {
        (void) sd_bus_reply_method_return(reg->call, "ot", l->object_path, l->id);
}

static void registration_finish(Registration *reg) {
        Broker *b = reg->broker;
        Listener *l;
        int r;

        r = listener_new(b, reg->fd, reg->rules, reg->uid, reg->account_uid, reg->pid, reg->description,
                         reg->default_deny, reg->root, NULL, &l);
        if (r < 0) {
                log_error_errno(r, "Failed to create listener for uid %u" CONTAINER_FMT ": %m", reg->uid,
                                CONTAINER_ARGS(reg));
                (void) sd_bus_reply_method_errnof(reg->call, r, "Failed to create listener: %m");
                registration_free(reg);
                return;
        }
        reg->fd = -EBADF;          /* owned by the listener now */
        reg->rules = NULL;
        /* Without it the owner only misses RuleRefused; the journal still says each refusal. An OCI runtime is
         * on no bus. */
        r = reg->container_id ? 0 : listener_set_owner_bus(l, reg->call);
        if (r < 0)
                log_warning_errno(r, "Listener %" PRIu64 ": cannot remember its owner's connection, its refusals "
                                  "go to the journal only: %m", l->id);

        listener_log(l, LOG_INFO, SB_MESSAGE_LISTENER_REGISTERED, NULL,
                     "Listener %" PRIu64 " registered by uid %u pid %i%s%s%s" CONTAINER_FMT ", %zu rule(s), "
                     "default %s.", l->id, l->owner_uid, l->owner_pid, l->description[0] ? " ('" : "",
                     l->description, l->description[0] ? "')" : "", CONTAINER_ARGS(reg), l->rules->n_rules,
                     l->default_deny ? "deny" : "continue");
        (void) persist_listener_store(l);
        registration_reply_registered(reg, l);
        registration_free(reg);
        listener_announce(l);
}

static void on_registration_check(PolkitQuery *q, PolkitResult result, const sd_bus_error *error,
                                  void *userdata);

static int registration_ask(Registration *reg, RegistrationCheck *c, bool interactive) {
        const char *details_buf[CHECK_DETAILS_MAX], *action;
        const char *const *details;
        RuleAuthorization a = {};
        char rules_buf[32];
        int r;

        r = registration_check_args(reg, c->position, details_buf, rules_buf, &a, &action, &details);
        if (r >= 0)
                r = polkit_check(reg->broker, reg->call, &reg->subject, action, details, interactive,
                                 on_registration_check, c, &c->query);
        rule_authorization_done(&a);
        return r;
}

/* Where the registration stands after an answer (or at its start): the first check in rule order that is
 * not a yes decides. A refusal is final once every check before it said yes (or "challenge", to be asked
 * again); all yes registers; anything not answered yet is waited for, asking the next ones meanwhile. Never
 * registers before every check said yes (invariant 1). */
static void registration_advance(Registration *reg) {
        bool waiting = false, challenged = false;
        int r;

        if (reg->interacting) {
                for (; reg->interactive_next < reg->n_checks; reg->interactive_next++) {
                        RegistrationCheck *c = &reg->checks[reg->interactive_next];

                        if (c->result == POLKIT_YES)
                                continue;
                        /* One dialog at a time, in rule order. */
                        r = registration_ask(reg, c, true);
                        if (r < 0)
                                registration_reply_failed(reg, r, "Failed to ask polkit");
                        return;
                }
                registration_finish(reg);
                return;
        }

        for (size_t i = 0; i < reg->n_checks; i++) {
                RegistrationCheck *c = &reg->checks[i];

                if (!c->answered) {
                        waiting = true;
                        break;
                }
                if (c->result == POLKIT_YES)
                        continue;
                if (c->result == POLKIT_CHALLENGE && reg->may_interact) {
                        challenged = true;
                        continue;
                }
                registration_refuse(reg, c);
                return;
        }

        if (waiting) {
                bool may_queue = true;

                /* Ask the next ones while the earlier are answered, at most so many at a time; the first of
                 * this turn may wait in the queue, the others only if they go to polkitd at once. */
                while (reg->n_asked < reg->n_checks && reg->n_pending < REGISTRATION_MAX_CHECKS_AT_ONCE) {
                        if (!may_queue && !polkit_has_room(reg->broker, reg->account_uid))
                                break;
                        may_queue = false;
                        r = registration_ask(reg, &reg->checks[reg->n_asked], false);
                        /* The user's polkit queue is full: this registration's own answers make room. */
                        if (r == -ENOBUFS && reg->n_pending > 0)
                                break;
                        if (r < 0) {
                                registration_reply_failed(reg, r, "Failed to ask polkit");
                                return;
                        }
                        reg->n_asked++;
                        reg->n_pending++;
                }
                return;
        }

        if (challenged) {
                reg->interacting = true;
                registration_advance(reg);
                return;
        }
        registration_finish(reg);
}

static void on_registration_check(PolkitQuery *q, PolkitResult result, const sd_bus_error *error,
                                  void *userdata) {
        RegistrationCheck *c = userdata;
        Registration *reg = c->reg;

        c->query = NULL;           /* freed by polkit.c once this returns */
        c->result = result;
        if (error)
                (void) sd_bus_error_copy(&c->error, error);
        if (reg->interacting) {
                if (result != POLKIT_YES) {
                        registration_refuse(reg, c);
                        return;
                }
                reg->interactive_next++;
        } else {
                c->answered = true;
                reg->n_pending--;
        }
        registration_advance(reg);
}

/* RegisterListener's "aa{sv} rules, a{sv} options" from m, validated, into reg. */
static int registration_read_rules_and_options(Broker *b, sd_bus_message *m, Registration *reg,
                                               sd_bus_error *error) {
        _cleanup_free_ char *rule_error = NULL;
        int r;

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
        return 0;
}

/* What RegisterListener checks of the fd and of the limits, for every way in (the bus, the OCI socket). */
static int registration_check(Broker *b, int fd, uid_t account_uid, sd_bus_error *error) {
        struct pollfd p;
        int r;

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

        if (b->n_registrations + b->n_listeners >= b->limits.max_listeners)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED, "Too many listeners (at most %u)",
                                         b->limits.max_listeners);
        /* Per user, with the subordinate uids it runs processes as (account_uid_of()). */
        if (listener_count_of(b, account_uid) + count_registrations_of(b, account_uid) >=
            b->limits.max_listeners_per_user)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many listeners for uid %u (at most %u)", account_uid,
                                         b->limits.max_listeners_per_user);
        return 0;
}

/* Plans a filled-in registration's checks and starts asking them; it is the daemon's from then on, and
 * answered or logged by the polkit steps. On failure it is freed. */
static int registration_start(Broker *b, Registration *reg) {
        int r;

        r = registration_plan_checks(reg);
        if (r < 0) {
                registration_free(reg);
                return r;
        }
        reg->broker = b;
        LIST_PREPEND(b->registrations, reg);
        b->n_registrations++;
        registration_advance(reg);
        return 0;
}

static int method_register_listener(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(registration_freep) Registration *reg = NULL;
        Broker *b = userdata;
        Caller caller;
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

        r = registration_read_rules_and_options(b, m, reg, error);
        if (r < 0)
                return r;

        r = caller_get(b, m, &caller);
        if (r < 0)
                return r;
        r = registration_check(b, fd, caller.account_uid, error);
        if (r < 0)
                return r;

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
        (void) snprintf(reg->owner_uid_detail, sizeof reg->owner_uid_detail, "%u", reg->uid);
        reg->account_uid = caller.account_uid;
        reg->pid = caller.pid;
        reg->call = sd_bus_message_ref(m);
        reg->may_interact = sd_bus_message_get_allow_interactive_authorization(m) > 0;
        r = registration_start(b, TAKE_PTR(reg));
        if (r < 0)
                return r;
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

int manager_register_oci(Broker *b, int fd, sd_bus_message *args, const PolkitSubject *subject,
                         const char *container_id, const char *root, sd_bus_error *error) {
        _cleanup_(registration_freep) Registration *reg = NULL;
        Caller runtime;
        int r;

        assert(b);
        assert(args);
        assert(subject);
        assert(container_id);

        reg = calloc(1, sizeof *reg);
        if (!reg)
                return -ENOMEM;
        reg->fd = -EBADF;
        reg->subject = POLKIT_SUBJECT_NULL;

        r = registration_read_rules_and_options(b, args, reg, error);
        if (r < 0)
                return r;
        /* The container's id is what its owner knows it by (ListListeners, busctl, the journal). */
        if (!reg->description || !reg->description[0]) {
                free(reg->description);
                reg->description = strndup(container_id, b->limits.max_description);
                if (!reg->description)
                        return -ENOMEM;
        }
        r = registration_check(b, fd, subject->account_uid, error);
        if (r < 0)
                return r;

        /* The runtime, pinned by pid, as caller_in_user_namespace() pins a bus caller. */
        runtime = (Caller) { .uid = subject->uid, .account_uid = subject->account_uid, .pid = subject->pid };
        r = caller_in_user_namespace(&runtime);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Cannot tell whether the runtime runs in a user "
                                               "namespace: %m");
        reg->user_namespace = r;

        reg->container_id = strdup(container_id);
        if (!reg->container_id)
                return -ENOMEM;
        if (root) {
                reg->root = strdup(root);
                if (!reg->root)
                        return -ENOMEM;
        }
        reg->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (reg->fd < 0)
                return -errno;
        r = polkit_subject_copy(subject, &reg->subject);
        if (r < 0)
                return r;
        reg->uid = subject->uid;
        (void) snprintf(reg->owner_uid_detail, sizeof reg->owner_uid_detail, "%u", reg->uid);
        reg->account_uid = subject->account_uid;
        reg->pid = subject->pid;

        /* polkit.c keeps a call per check and answers it; the runtime hears nothing (the protocol has no
         * reply), so it gets a sealed stand-in that expects no reply: every answer to it is a no-op, and the
         * outcome is logged with the container's id instead. Never interactive: nobody could answer. */
        r = sd_bus_message_new_method_call(b->system_bus, &reg->call, NULL, "/", "org.sysbroker.Oci", "Register");
        if (r < 0)
                return r;
        r = sd_bus_message_set_expect_reply(reg->call, false);
        if (r < 0)
                return r;
        r = sd_bus_message_seal(reg->call, 1, 0);
        if (r < 0)
                return r;
        reg->may_interact = false;
        r = registration_start(b, TAKE_PTR(reg));
        if (r < 0)
                return r;
        return 0;
}
