/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One a{sv} walker for the rule dictionaries, the registration options and the properties, on both sides. */

#include <assert.h>

#include "bus-dict.h"

int bus_dict_foreach(sd_bus_message *m, BusDictEntryFunc f, void *userdata) {
        int r;

        assert(m);
        assert(f);

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;

        for (;;) {
                const char *key, *contents;

                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;

                r = sd_bus_message_read_basic(m, 's', &key);
                if (r < 0)
                        return r;
                r = sd_bus_message_peek_type(m, NULL, &contents);
                if (r < 0)
                        return r;

                r = f(m, key, contents, userdata);
                if (r < 0)
                        return r;

                r = sd_bus_message_exit_container(m); /* e */
                if (r < 0)
                        return r;
        }

        return sd_bus_message_exit_container(m); /* a{sv} */
}
