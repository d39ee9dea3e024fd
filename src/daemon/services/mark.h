/* SPDX-License-Identifier: ISC */
/*
 * mark.h - the durable "hook not yet run" mark of a stored file.  It is
 * the xattr user.tcpxd.hook on the file itself, set before the file's
 * fsync so it is durable with the data at no cost; where the file system
 * has no user xattrs, a record file .tcpxd-hook.<hash> beside it, made
 * durable by the directory fsync that publishes the file.  Either way the
 * mark exists before the receipt is sent, and holds the facts of the
 * upload that the file cannot tell (hook.h runs what it names).
 */
#ifndef TCPXD_MARK_H
#define TCPXD_MARK_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"
#include "wire/addr.h"

#define MARK_XATTR "user.tcpxd.hook"
#define MARK_RECORD_PREFIX ".tcpxd-hook."
/* Longest record file name, with the NUL. */
#define MARK_RECORD_MAX 48

struct mark_facts {
	char listener[LISTENER_NAME_MAX + 1];
	char sha256[65];            /* hex */
	char peer[ADDR_TEXT_MAX];
	char client[IDENTITY_NAME_MAX + 1];     /* "" when anonymous */
};

/* Room a mark's value needs. */
#define MARK_VALUE_MAX (LISTENER_NAME_MAX + 65 + ADDR_TEXT_MAX + IDENTITY_NAME_MAX + 8)

/* The mark's value: "listener\nsha256\npeer\nclient\n".  Its length, 0 if it does not fit. */
size_t mark_format(const struct mark_facts *f, char *buf, size_t len);
/* Reads a value mark_format() wrote.  0, or -1 when it is not one. */
int mark_parse(const char *buf, size_t len, struct mark_facts *f);
/*
 * Writes the record file of the file name in dirfd and fsyncs it (not the
 * directory: the caller's directory fsync publishes both).  Its name goes
 * to record.  0, or -1 with errno (nothing left behind).
 */
int mark_record_write(int dirfd, const char *name, const char *value, size_t len,
    char *record, size_t recordlen);
/* Whether fd (a stored file) carries a mark; its facts to f when not NULL.  1, 0, or -1. */
int mark_get(int fd, struct mark_facts *f);
/*
 * Takes the mark away: the xattr of fd (when fd >= 0) and the record
 * file record in dirfd (when record is not empty).  0, or -1 with errno.
 */
int mark_clear(int fd, int dirfd, const char *record);
/*
 * Calls found() for every marked file in dirfd: name, record ("" for an
 * xattr mark), facts.  Names starting with '.' are not stored files and
 * are skipped (temporaries, partials).  The count found, or -1 with errno.
 */
int mark_scan(int dirfd, void (*found)(const char *name, const char *record,
    const struct mark_facts *f, void *arg), void *arg);
/* Whether name is a record file's name. */
bool mark_is_record(const char *name);

#endif
