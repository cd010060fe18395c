/*
 * daemon/notify.c — systemd's readiness protocol, spoken directly: one
 * datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace).  No
 * libsystemd: the protocol is a sendto(2).
 *
 * stratad sends READY=1 once config, manifest, intent recovery and the admin
 * socket are up; STATUS= with a one-line summary after each scan;
 * WATCHDOG=1 from the loop's timer at half of $WATCHDOG_USEC; RELOADING=1
 * and READY=1 around a reload; STOPPING=1 when it begins to stop.
 *
 * WATCHDOG=1 and STATUS= never block (MSG_DONTWAIT): a full receive queue
 * drops the datagram rather than stall the event loop.  The state messages
 * (READY, RELOADING, STOPPING) must not be lost, so they wait for room, at
 * most 1 s (SO_SNDTIMEO).
 *
 * Thread safety: any thread (a socket per call).
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int stratad_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (!path || !*path)
		return 0;
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t len = strlen(path);
	if (len >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
				      (path[0] == '/' ? 1 : 0));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* WATCHDOG= and STATUS= never block the loop (a receiver that does not
	 * read loses them, and the next one replaces them); state changes
	 * (READY, RELOADING, STOPPING) must arrive, so they wait up to a second
	 * for room in the receiver's queue */
	bool is_state = strncmp(msg, "WATCHDOG", 8) != 0 && strncmp(msg, "STATUS", 6) != 0;
	if (is_state) {
		struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	ssize_t n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | (is_state ? 0 : MSG_DONTWAIT),
			   (struct sockaddr *)&sa, salen);
	int rc = n < 0 ? -errno : 1;
	close(fd);
	return rc;
}

int64_t stratad_watchdog_usec(void)
{
	const char *us = getenv("WATCHDOG_USEC");
	if (!us || !*us)
		return 0;
	const char *pid = getenv("WATCHDOG_PID");
	if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	long long v = strtoll(us, NULL, 10);
	return v > 0 ? (int64_t)v : 0;
}
