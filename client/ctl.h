/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What sysbrokerctl's executable (ctl-main.c, ctl-exec.c) and its module (sysbrokerctl.c) share. */

#include "macro.h"

#define EXIT_RUN_FAILURE 125
#define EXIT_CANNOT_INVOKE 126
#define EXIT_ENOENT 127

/* ctl_exec()'s answer to --help: the usage text is the module's. */
#define CTL_EXEC_HELP (-1)

void error_msg(const char *format, ...) _printf_(1, 2);

/* `exec [--] CMD [ARG...]`: an exit status (it returns only on failure), or CTL_EXEC_HELP. */
int ctl_exec(int argc, char *argv[]);

/* Every command, in the module. */
int sysbrokerctl_main(int argc, char *argv[]);
