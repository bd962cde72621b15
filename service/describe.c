/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Manager.Describe(): the state as JSON, built with json-c. The rules go through rule_set_append() first, so
 * that the JSON holds exactly the keys the Rules property sends (only those that apply to each rule). */

#include <assert.h>
#include <json-c/json.h>

#include "bus-dict.h"
#include "config.h"
#include "describe.h"
#include "listener.h"
#include "notify.h"

/* json_object_put() returns an int, not NULL: no DEFINE_TRIVIAL_CLEANUP_FUNC. */
static void json_object_putp(json_object **o) {
        if (*o)
                (void) json_object_put(*o);
}

/* json_object_object_add() takes the value even when it fails; NULL (out of memory) is -ENOMEM. */
static int json_add(json_object *o, const char *key, json_object *v) {
        if (!v)
                return -ENOMEM;
        return json_object_object_add(o, key, v) < 0 ? -ENOMEM : 0;
}

static int json_append(json_object *a, json_object *v) {
        if (!v)
                return -ENOMEM;
        return json_object_array_add(a, v) < 0 ? -ENOMEM : 0;
}

/* One rule key's value, of the types rule_set_append() writes. */
static int rule_key_to_json(sd_bus_message *m, const char *key, const char *contents, void *userdata) {
        json_object *rule = userdata;
        int r;

        if (streq(contents, "s")) {
                const char *s;
                r = sd_bus_message_read(m, "v", "s", &s);
                return r < 0 ? r : json_add(rule, key, json_object_new_string(s));
        }
        if (streq(contents, "u")) {
                uint32_t u;
                r = sd_bus_message_read(m, "v", "u", &u);
                return r < 0 ? r : json_add(rule, key, json_object_new_uint64(u));
        }
        if (streq(contents, "t")) {
                uint64_t t;
                r = sd_bus_message_read(m, "v", "t", &t);
                return r < 0 ? r : json_add(rule, key, json_object_new_uint64(t));
        }
        if (streq(contents, "i")) {
                int32_t i;
                r = sd_bus_message_read(m, "v", "i", &i);
                return r < 0 ? r : json_add(rule, key, json_object_new_int(i));
        }
        if (streq(contents, "b")) {
                int b;
                r = sd_bus_message_read(m, "v", "b", &b);
                return r < 0 ? r : json_add(rule, key, json_object_new_boolean(b));
        }
        if (streq(contents, "as")) {
                _cleanup_(json_object_putp) json_object *a = json_object_new_array();
                const char *s;

                if (!a)
                        return -ENOMEM;
                r = sd_bus_message_enter_container(m, 'v', "as");
                if (r >= 0)
                        r = sd_bus_message_enter_container(m, 'a', "s");
                while (r >= 0 && (r = sd_bus_message_read(m, "s", &s)) > 0)
                        r = json_append(a, json_object_new_string(s));
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                return r < 0 ? r : json_add(rule, key, TAKE_PTR(a));
        }
        return -EBADMSG; /* a type rule_set_append() does not write */
}

static int rules_to_json(sd_bus *bus, const RuleSet *rules, json_object **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(json_object_putp) json_object *a = json_object_new_array();
        int r;

        if (!a)
                return -ENOMEM;
        r = sd_bus_message_new_method_call(bus, &m, NULL, "/", "org.sysbroker.State", "Rules");
        if (r >= 0)
                r = rule_set_append(m, rules);
        if (r >= 0)
                r = sd_bus_message_seal(m, 1, 0);
        if (r >= 0)
                r = sd_bus_message_rewind(m, true);
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "a{sv}");
        while (r >= 0 && (r = sd_bus_message_at_end(m, false)) == 0) {
                json_object *rule = json_object_new_object();

                r = json_append(a, rule);
                if (r >= 0)
                        r = bus_dict_foreach(m, rule_key_to_json, rule);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(a);
        return 0;
}

static uint64_t counter(const uint64_t *c) {
        return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static int listener_to_json(sd_bus *bus, const Listener *l, DescribeVisibility visibility, json_object **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *rules = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        /* The keys are the Listener interface's property names, so that a script reads the same words. */
        r = json_add(o, "Id", json_object_new_uint64(l->id));
        if (r >= 0)
                r = json_add(o, "ObjectPath", json_object_new_string(l->object_path));
        if (r >= 0)
                r = json_add(o, "OwnerUID", json_object_new_uint64(l->owner_uid));
        if (r >= 0)
                r = json_add(o, "Description", json_object_new_string(l->description));
        /* The rest is what the listener's object shows, to its owner and root only: a manager sees another
         * user's listener as ListListeners lists it, not its rules, counters or process. */
        if (r < 0 || visibility != DESCRIBE_FULL)
                goto done;
        r = json_add(o, "OwnerPID", json_object_new_uint64((uint32_t) l->owner_pid));
        if (r >= 0)
                r = json_add(o, "RegisteredTimestamp", json_object_new_uint64(l->registered_usec));
        if (r >= 0)
                r = json_add(o, "DefaultAction", json_object_new_string(l->default_deny ? "deny" : "continue"));
        if (r >= 0)
                r = json_add(o, "Notifications", json_object_new_uint64(counter(&l->counters.notifications)));
        if (r >= 0)
                r = json_add(o, "Emulated", json_object_new_uint64(counter(&l->counters.emulated)));
        if (r >= 0)
                r = json_add(o, "Denied", json_object_new_uint64(counter(&l->counters.denied)));
        if (r >= 0)
                r = json_add(o, "Continued", json_object_new_uint64(counter(&l->counters.continued)));
        if (r >= 0)
                r = json_add(o, "Failed", json_object_new_uint64(counter(&l->counters.failed)));
        if (r >= 0)
                r = rules_to_json(bus, l->rules, &rules);
        if (r >= 0)
                r = json_add(o, "Rules", rules);
done:
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

int describe_broker(Broker *b, sd_bus *bus, describe_visibility_t visibility, const void *userdata, char **ret) {
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *listeners = NULL;
        json_object *features;
        const char *text;
        char *s;
        int r;

        assert(b);
        assert(bus);
        assert(visibility);
        assert(ret);

        if (!o)
                return -ENOMEM;
        r = json_add(o, "Version", json_object_new_string(PACKAGE_VERSION));
        features = json_object_new_array();
        if (r >= 0)
                r = json_add(o, "KernelFeatures", features);
        for (KernelFeature f = 0; r >= 0 && f < _KERNEL_FEATURE_MAX; f++)
                if (b->kernel_features & (1u << f))
                        r = json_append(features, json_object_new_string(kernel_feature_to_string(f)));
        /* Of all users, as the NListeners property says to anyone; Listeners only those the caller may see. */
        if (r >= 0)
                r = json_add(o, "NListeners", json_object_new_uint64(b->n_listeners));
        if (r < 0)
                return r;

        listeners = json_object_new_array();
        if (!listeners)
                return -ENOMEM;
        for (Listener *l = b->listeners; l; l = l->next) {
                DescribeVisibility v = l->removed ? DESCRIBE_HIDDEN : visibility(l, userdata);
                json_object *lo;

                if (v == DESCRIBE_HIDDEN)
                        continue;
                r = listener_to_json(bus, l, v, &lo);
                if (r < 0)
                        return r;
                r = json_append(listeners, lo);
                if (r < 0)
                        return r;
        }
        r = json_add(o, "Listeners", TAKE_PTR(listeners));
        if (r < 0)
                return r;

        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        s = strdup(text);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
