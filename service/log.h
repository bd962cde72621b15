/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging to stderr with syslog priority prefixes, which journald turns into priorities.
 * log_*_errno() return the (negative) error they were given, for `return log_error_errno(r, …);`. */
#pragma once

#include <syslog.h>

#include "macro.h"

/* The level and the target may change while listener threads log (org.freedesktop.LogControl1): both are
 * atomic. */
void log_set_max_level(int level);
int log_get_max_level(void);
int log_parse_level(const char *s);
const char *log_level_to_string(int level);

/* Where lines go, systemd's LogTarget names (those sysbrokerd has): auto, the default, sends lines with
 * fields natively to the journal when stderr is its stream and everything else to stderr; console and
 * console-prefixed write everything to stderr (with "<N>" unless a terminal, resp. always); journal sends
 * everything natively; null drops everything. */
typedef enum LogTarget {
        LOG_TARGET_AUTO,
        LOG_TARGET_CONSOLE,
        LOG_TARGET_CONSOLE_PREFIXED,
        LOG_TARGET_JOURNAL,
        LOG_TARGET_NULL,
        _LOG_TARGET_MAX,
        _LOG_TARGET_INVALID = -EINVAL,
} LogTarget;

const char *log_target_to_string(LogTarget t);
LogTarget log_target_from_string(const char *s);
LogTarget log_get_target(void);
/* From the main loop only (journal connects to journald's socket by its path in our root). */
int log_set_target(LogTarget t);

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);

#define log_full_errno(level, error, ...)                                                       \
        ({                                                                                      \
                int _level_ = (level), _e_ = (error);                                           \
                _level_ <= log_get_max_level()                                                   \
                        ? log_internal(_level_, _e_, __FILE__, __LINE__, __func__, __VA_ARGS__) \
                        : -abs(_e_);                                                            \
        })
#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_oom() log_error_errno(-ENOMEM, "Out of memory.")

/* A message with journal fields of its own ("KEY=value", NULL-terminated list): sent to the journal with
 * those fields when stderr is connected to it (JOURNAL_STREAM), else written like any other line. */
void log_struct(int level, const char *const *fields, const char *message);
/* A NULL-terminated list of fields for log_struct(), in place. */
#define LOG_FIELDS(...) ((const char *const[]) { __VA_ARGS__, NULL })
/* Connects to the journal's native socket, for log_struct(): once, before any thread is started. */
void log_open_journal(void);
