/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OCI runtime's message and the listenerMetadata in it, parsed with json-c. Everything here is untrusted:
 * lengths are checked before use, and the rules are only translated, never judged: rule.c judges them. */

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <json-c/json.h>

#include "oci-state.h"
#include "rule.h"

static void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

void oci_state_done(OciState *s) {
        free(s->container_id);
        free(s->bundle);
        free(s->metadata);
        *s = (OciState) {};
}

static int set_error(char **ret_error, const char *format, ...) _printf_(2, 3);
static int set_error(char **ret_error, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(ret_error, format, ap);
        va_end(ap);
        if (r < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return -EINVAL;
}

/* A JSON string as a C string: NULL if it holds a NUL byte (it would be cut short unnoticed) or is not UTF-8
 * (D-Bus, the journal and polkit all want UTF-8). */
static const char *json_string_checked(json_object *o) {
        const char *s = json_object_get_string(o);

        if (!s || strlen(s) != (size_t) json_object_get_string_len(o) || !utf8_is_valid(s))
                return NULL;
        return s;
}

/* Parses one whole JSON value of text; trailing bytes other than white space are refused. */
static int json_parse_all(const char *text, size_t size, json_object **ret, char **ret_error, const char *what) {
        json_tokener *tok;
        json_object *o;
        size_t end;

        if (size > INT_MAX)
                return set_error(ret_error, "%s is too long", what);
        tok = json_tokener_new_ex(OCI_JSON_MAX_DEPTH);
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, text, (int) size);
        if (!o) {
                enum json_tokener_error e = json_tokener_get_error(tok);
                json_tokener_free(tok);
                if (e == json_tokener_continue)
                        return set_error(ret_error, "%s is not complete JSON", what);
                return set_error(ret_error, "%s is not valid JSON: %s", what, json_tokener_error_desc(e));
        }
        end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        for (; end < size; end++)
                if (!strchr(" \t\r\n", text[end])) {
                        json_object_put(o);
                        return set_error(ret_error, "%s has data after its JSON value", what);
                }
        *ret = o;
        return 0;
}

int oci_state_parse(const char *text, size_t size, OciState *ret, char **ret_error) {
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_(oci_state_done) OciState s = {};
        json_object *state, *o, *fds;
        const char *str;
        int64_t pid;
        bool found = false;
        int r;

        assert(ret);
        assert(ret_error);

        r = json_parse_all(text, size, &root, ret_error, "The runtime's message");
        if (r < 0)
                return r;
        if (!json_object_is_type(root, json_type_object))
                return set_error(ret_error, "The runtime's message is not a JSON object");

        if (!json_object_object_get_ex(root, "fds", &fds) || !json_object_is_type(fds, json_type_array))
                return set_error(ret_error, "'fds' is missing or not a list");
        s.n_fds = json_object_array_length(fds);
        if (s.n_fds > OCI_MAX_FDS)
                return set_error(ret_error, "'fds' names %zu file descriptors, more than %u", s.n_fds,
                                 OCI_MAX_FDS);
        for (size_t i = 0; i < s.n_fds; i++) {
                o = json_object_array_get_idx(fds, i);
                if (!json_object_is_type(o, json_type_string))
                        return set_error(ret_error, "'fds' holds something other than a name");
                if (!streq(json_object_get_string(o), "seccompFd"))
                        continue;
                if (found)
                        return set_error(ret_error, "'fds' names 'seccompFd' twice");
                found = true;
                s.seccomp_fd_index = i;
        }
        if (!found)
                return set_error(ret_error, "'fds' does not name 'seccompFd'");

        if (!json_object_object_get_ex(root, "pid", &o) || !json_object_is_type(o, json_type_int))
                return set_error(ret_error, "'pid' is missing or not a number");
        pid = json_object_get_int64(o);
        if (pid <= 0 || pid > INT_MAX)
                return set_error(ret_error, "'pid' %" PRIi64 " is not a process id", pid);
        s.pid = (pid_t) pid;

        if (!json_object_object_get_ex(root, "state", &state) || !json_object_is_type(state, json_type_object))
                return set_error(ret_error, "'state' is missing or not an object");
        /* The runtime says it twice; two different answers leave it unclear whose process it is. */
        if (json_object_object_get_ex(state, "pid", &o) &&
            (!json_object_is_type(o, json_type_int) || json_object_get_int64(o) != pid))
                return set_error(ret_error, "'state.pid' is not 'pid'");

        if (!json_object_object_get_ex(state, "id", &o) || !json_object_is_type(o, json_type_string))
                return set_error(ret_error, "'state.id' is missing or not a string");
        str = json_string_checked(o);
        if (!str || str[0] == 0 || strlen(str) > OCI_CONTAINER_ID_MAX || string_has_control(str))
                return set_error(ret_error, "'state.id' is not a container id (printable UTF-8, 1 to %u bytes)",
                                 OCI_CONTAINER_ID_MAX);
        s.container_id = strdup(str);
        if (!s.container_id)
                return -ENOMEM;

        if (!json_object_object_get_ex(state, "bundle", &o) || !json_object_is_type(o, json_type_string))
                return set_error(ret_error, "'state.bundle' is missing or not a string");
        str = json_string_checked(o);
        if (!str || str[0] != '/' || strlen(str) >= PATH_MAX)
                return set_error(ret_error, "'state.bundle' is not an absolute path");
        s.bundle = strdup(str);
        if (!s.bundle)
                return -ENOMEM;

        /* Absent, null or empty: nothing asked for; the caller says so with the container's id. */
        if (json_object_object_get_ex(root, "metadata", &o) && !json_object_is_type(o, json_type_null)) {
                if (!json_object_is_type(o, json_type_string))
                        return set_error(ret_error, "'metadata' is not a string");
                str = json_string_checked(o);
                if (!str)
                        return set_error(ret_error, "'metadata' holds a NUL byte or invalid UTF-8");
                if (str[0]) {
                        s.metadata = strdup(str);
                        if (!s.metadata)
                                return -ENOMEM;
                }
        }

        *ret = s;
        s = (OciState) {};
        return 0;
}

/* One JSON value as the variant of key. where: "Rule 3: key 'Major'" or "Option 'Description'". */
static int append_variant(sd_bus_message *m, const char *signature, json_object *v, const char *where,
                          char **ret_error) {
        const char *s;
        int64_t i;
        int r;

        switch (json_object_get_type(v)) {
        case json_type_string:
                s = json_string_checked(v);
                if (!s)
                        return set_error(ret_error, "%s holds a NUL byte or invalid UTF-8", where);
                return sd_bus_message_append(m, "v", "s", s);
        case json_type_boolean:
                return sd_bus_message_append(m, "v", "b", (int) json_object_get_boolean(v));
        case json_type_int:
                i = json_object_get_int64(v);
                if (signature && streq(signature, "u") && i >= 0 && i <= UINT32_MAX)
                        return sd_bus_message_append(m, "v", "u", (uint32_t) i);
                if (signature && streq(signature, "i") && i >= INT32_MIN && i <= INT32_MAX)
                        return sd_bus_message_append(m, "v", "i", (int32_t) i);
                if (signature && streq(signature, "t") && i >= 0)
                        return sd_bus_message_append(m, "v", "t", (uint64_t) i);
                /* Out of the key's range, or no number wanted: the rule parser names the type it wants. */
                return sd_bus_message_append(m, "v", "x", i);
        case json_type_double:
                return sd_bus_message_append(m, "v", "d", json_object_get_double(v));
        case json_type_array:
                r = sd_bus_message_open_container(m, 'v', "as");
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(m, 'a', "s");
                if (r < 0)
                        return r;
                for (size_t k = 0; k < json_object_array_length(v); k++) {
                        json_object *e = json_object_array_get_idx(v, k);

                        s = json_object_is_type(e, json_type_string) ? json_string_checked(e) : NULL;
                        if (!s)
                                return set_error(ret_error, "%s must be a list of strings (UTF-8, no NUL byte)",
                                                 where);
                        r = sd_bus_message_append(m, "s", s);
                        if (r < 0)
                                return r;
                }
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
                return sd_bus_message_close_container(m);
        case json_type_null:
        case json_type_object:
        default:
                return set_error(ret_error, "%s is %s, which no rule or option takes", where,
                                 json_object_is_type(v, json_type_null) ? "null" : "an object");
        }
}

/* One JSON object as a{sv}, each value typed by signature_of(key) (NULL: by its JSON type). */
static int append_dict(sd_bus_message *m, json_object *dict, const char *(*signature_of)(const char *key),
                       const char *prefix, char **ret_error) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        json_object_object_foreach(dict, key, value) {
                _cleanup_free_ char *where = NULL;

                if (!utf8_is_valid(key))
                        return set_error(ret_error, "%s a key is not UTF-8", prefix);
                if (asprintf(&where, "%s key '%.64s'", prefix, key) < 0)
                        return -ENOMEM;
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(m, "s", key);
                if (r < 0)
                        return r;
                r = append_variant(m, signature_of ? signature_of(key) : NULL, value, where, ret_error);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static const char *option_signature(const char *key) {
        return "s";
}

int oci_metadata_to_message(const char *metadata, sd_bus *bus, sd_bus_message **ret, char **ret_error) {
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_(json_object_putp) json_object *options = NULL;
        json_object *rules = NULL;
        int r;

        assert(metadata);
        assert(ret);
        assert(ret_error);

        r = json_parse_all(metadata, strlen(metadata), &root, ret_error, "listenerMetadata");
        if (r < 0)
                return r;
        if (!json_object_is_type(root, json_type_object))
                return set_error(ret_error, "listenerMetadata is not a JSON object");
        if (!json_object_object_get_ex(root, "Rules", &rules) || !json_object_is_type(rules, json_type_array))
                return set_error(ret_error, "listenerMetadata has no 'Rules' list");

        r = sd_bus_message_new_method_call(bus, &m, NULL, "/", "org.sysbroker.Oci", "Register");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(m, 'a', "a{sv}");
        if (r < 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(rules); i++) {
                json_object *rule = json_object_array_get_idx(rules, i);
                char prefix[64];

                snprintf(prefix, sizeof prefix, "Rule %zu:", i);
                if (!json_object_is_type(rule, json_type_object))
                        return set_error(ret_error, "Rule %zu: not a JSON object", i);
                r = append_dict(m, rule, rule_key_signature, prefix, ret_error);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(m);
        if (r < 0)
                return r;

        /* Everything else at the top is an option, typed as a string: the options reader says which exist. */
        options = json_object_new_object();
        if (!options)
                return -ENOMEM;
        json_object_object_foreach(root, key, value)
                if (!streq(key, "Rules") && json_object_object_add(options, key, json_object_get(value)) < 0)
                        return -ENOMEM;
        r = append_dict(m, options, option_signature, "Option", ret_error);
        if (r < 0)
                return r;

        r = sd_bus_message_seal(m, 1, 0);
        if (r < 0)
                return r;
        r = sd_bus_message_rewind(m, true);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

int oci_config_root_path(const char *text, size_t size, char **ret, char **ret_error) {
        _cleanup_(json_object_putp) json_object *root = NULL;
        json_object *o, *path;
        const char *str;
        int r;

        assert(ret);
        assert(ret_error);

        r = json_parse_all(text, size, &root, ret_error, "The bundle's config.json");
        if (r < 0)
                return r;
        if (!json_object_is_type(root, json_type_object) || !json_object_object_get_ex(root, "root", &o) ||
            !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "path", &path) ||
            !json_object_is_type(path, json_type_string))
                return set_error(ret_error, "The bundle's config.json has no 'root.path' string");
        str = json_string_checked(path);
        if (!str || !str[0] || strlen(str) >= PATH_MAX)
                return set_error(ret_error, "The bundle's 'root.path' is empty, too long, or not UTF-8");
        *ret = strdup(str);
        return *ret ? 0 : -ENOMEM;
}
