/* SPDX-License-Identifier: ISC */
/*
 * park.h - the waiting room: idle connections without a thread.  A
 * connection idle at a message boundary for park_after hands its socket
 * here, and its thread exits; one thread watches every parked socket with
 * epoll and their idle timeouts in a heap, and hands each back (wake) at
 * its first readable byte, its hang-up, or its idle timeout.  The waiting
 * room knows nothing of connections: conn.c embeds an entry in each.
 */
#ifndef TCPXD_PARK_H
#define TCPXD_PARK_H

#include <stdbool.h>

#include "daemon/deadline.h"

enum park_wake { PARK_READY, PARK_IDLE };

struct park_entry {
	int fd;
	long long idle_at;      /* sys_now_ms() time of the idle timeout */
	/*
	 * Called on the waiting room's thread once the entry is out of it:
	 * true when the connection was taken over (a thread started, or it
	 * ended); false and it stays, to be offered again a moment later.
	 */
	bool (*wake)(struct park_entry *e, enum park_wake why);
	/* The waiting room's own. */
	struct deadline_entry dl;
	enum park_wake why;     /* of a wake offered again */
	bool retry;
};

/* Starts the waiting room's thread.  0, or -1 with errno. */
int park_init(void);
/* Stops it; call once nothing is parked (conn_active() is 0). */
void park_fini(void);
/*
 * Parks e (fd and idle_at set): from now on it belongs to the waiting room
 * until wake.  0, or -1 with errno (e stays the caller's).
 */
int park_add(struct park_entry *e);
/* Connections parked now, for STATUS=. */
unsigned park_count(void);

#endif
