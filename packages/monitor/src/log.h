/* Log drivers of isula-monitor: json-file (with rotation), syslog, none. */
#ifndef ISULA_MONITOR_LOG_H
#define ISULA_MONITOR_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum log_driver { LOG_DRIVER_JSON_FILE, LOG_DRIVER_SYSLOG, LOG_DRIVER_NONE };

struct log_config {
    enum log_driver driver;
    const char *path;       /* json-file */
    uint64_t max_size;      /* 0 = unlimited */
    unsigned max_file;      /* >= 1 */
    const char *syslog_tag;
    int syslog_facility;
};

/* Returns 0, or -1 with errno set (the log file could not be opened). */
int log_open(const struct log_config *cfg);
/* One log record: text may contain any bytes; stream is "stdout" or "stderr". */
void log_write(const char *stream, const char *text, size_t len);
void log_close(void);

/* RFC3339 with nanoseconds, UTC: 2026-11-27T07:55:01.123456789Z (buf >= 40). */
size_t format_time(const struct timespec *ts, char *buf, size_t cap);
/* Facility by name ("daemon", "local3", ...), -1 if unknown. */
int syslog_facility_by_name(const char *name);

#endif
