/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TAP output for the unit suite. */

#include "unit.h"

int unit_failed;

int unit_run(const UnitTest *tests, size_t n) {
        int failures = 0;

        printf("1..%zu\n", n);
        for (size_t i = 0; i < n; i++) {
                unit_failed = 0;
                tests[i].func();
                printf("%s %zu - %s\n", unit_failed ? "not ok" : "ok", i + 1, tests[i].name);
                failures += unit_failed;
        }
        return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
