#include "rdma_addrs.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <rdma/rdma_cma.h>
#include <stdio.h>
#include <string.h>

bool rdma_addrs_is_wildcard(const struct sockaddr *addr)
{
	if (addr->sa_family == AF_INET)
		return ((const struct sockaddr_in *)addr)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	if (addr->sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
			&((const struct sockaddr_in6 *)addr)->sin6_addr);
	return false;
}

/* Whether binding an rdma_cm id to addr lands on an RDMA device. */
static bool served_by_a_device(struct sockaddr_in addr)
{
	struct rdma_cm_id *id;
	bool served;

	addr.sin_port = 0;
	if (rdma_create_id(NULL, &id, NULL, RDMA_PS_TCP))
		return false;
	served = rdma_bind_addr(id, (struct sockaddr *)&addr) == 0 &&
		 id->verbs != NULL;
	rdma_destroy_id(id);
	return served;
}

void rdma_addrs_list(char *buf, size_t len)
{
	struct ifaddrs *all, *i;
	size_t used = 0;

	snprintf(buf, len, "none");
	if (getifaddrs(&all))
		return;
	for (i = all; i; i = i->ifa_next) {
		char text[INET_ADDRSTRLEN];
		struct sockaddr_in a;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		memcpy(&a, i->ifa_addr, sizeof(a));
		if (!served_by_a_device(a) ||
		    !inet_ntop(AF_INET, &a.sin_addr, text, sizeof(text)))
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 used ? ", " : "", text);
		if (used >= len)
			break;
	}
	freeifaddrs(all);
}
