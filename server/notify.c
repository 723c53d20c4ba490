#include "notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include "common/log.h"

void notify_ready(const char *status)
{
	int rc = sd_notifyf(0, "READY=1\nSTATUS=%s", status);

	if (rc < 0)
		log_warn("cannot tell systemd chunkd is ready: %d", rc);
}

void notify_reloading(void)
{
	struct timespec now;

	/* Type=notify-reload (systemd 253 and later) wants the time the
	 * reload began; Type=notify ignores it. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		   (unsigned long long)now.tv_sec * 1000000ull +
			   (unsigned long long)now.tv_nsec / 1000);
}

void notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}
