/* Log drivers of isula-monitor: json-file (with rotation), kubernetes (the CRI log format), syslog, none. */
#ifndef ISULA_MONITOR_LOG_H
#define ISULA_MONITOR_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum log_driver { LOG_DRIVER_JSON_FILE, LOG_DRIVER_SYSLOG, LOG_DRIVER_NONE, LOG_DRIVER_KUBERNETES };

struct log_config {
    enum log_driver driver;
    const char *path;       /* json-file, kubernetes */
    uint64_t max_size;      /* 0 = unlimited */
    unsigned max_file;      /* >= 1 */
    const char *syslog_tag;
    int syslog_facility;
};

/* Returns 0, or -1 with errno set (the log file could not be opened). */
int log_open(const struct log_config *cfg);
/* One log record: text may contain any bytes; stream is "stdout" or "stderr". A record ending in
 * '\n' is a whole line, any other a partial one (kubernetes: 'F' / 'P'). */
void log_write(const char *stream, const char *text, size_t len);
/* Opens the log file's path anew (after someone renamed it) and writes there from now on; 0, or -1
 * with errno set, the old file then still in use. A no-op for the drivers without a file. */
int log_reopen(void);
void log_close(void);

/* RFC3339 with nanoseconds, UTC: 2026-11-27T07:55:01.123456789Z (buf >= 40). */
size_t format_time(const struct timespec *ts, char *buf, size_t cap);
/* Facility by name ("daemon", "local3", ...), -1 if unknown. */
int syslog_facility_by_name(const char *name);

#endif
