/*
 * chunkd's word to its service manager (systemd's sd_notify protocol,
 * through libsystemd): ready once it serves, reloading on SIGHUP, stopping
 * on SIGTERM, and a one-line status for `systemctl status`. Each call does
 * nothing when chunkd was not started by systemd with Type=notify (no
 * $NOTIFY_SOCKET), so the daemon runs the same by hand.
 *
 * Threading: the event-loop thread.
 */
#ifndef CHUNKD_SERVER_NOTIFY_H
#define CHUNKD_SERVER_NOTIFY_H

/* The service is up and serving; status says how. */
void notify_ready(const char *status);

/* A reload (SIGHUP) has begun; notify_ready() ends it. */
void notify_reloading(void);

/* Shutting down. */
void notify_stopping(void);

#endif
