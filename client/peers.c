#include "peers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunkclient.h"

struct chunk_client *peers_find(struct client_peers *p, const char *host,
				uint16_t port)
{
	for (unsigned i = 0; i < p->count; i++)
		if (p->list[i].port == port && !strcmp(p->list[i].host, host))
			return p->list[i].client;
	return NULL;
}

int peers_add(struct client_peers *p, const char *host, uint16_t port,
	      struct chunk_client *peer)
{
	if (p->count == p->cap) {
		unsigned cap = p->cap ? 2 * p->cap : 4;
		struct client_peer *l = realloc(p->list, cap * sizeof(*l));

		if (!l)
			return CHUNK_E_NOMEM;
		p->list = l;
		p->cap = cap;
	}
	snprintf(p->list[p->count].host, sizeof(p->list[0].host), "%s", host);
	p->list[p->count].port = port;
	p->list[p->count].client = peer;
	p->count++;
	return CHUNK_OK;
}

struct chunk_client *peers_route(struct client_peers *p, uint64_t chunk)
{
	uint64_t i;

	if (!p->routes_ready || !idmap_get(&p->routes, chunk, &i))
		return NULL;
	return p->list[i].client;
}

int peers_route_add(struct client_peers *p, uint64_t chunk,
		    struct chunk_client *peer)
{
	unsigned i;

	for (i = 0; i < p->count && p->list[i].client != peer; i++)
		;
	if (i == p->count)
		return CHUNK_E_INVAL;
	if (!p->routes_ready) {
		if (idmap_init(&p->routes, 64))
			return CHUNK_E_NOMEM;
		p->routes_ready = true;
	}
	return idmap_put(&p->routes, chunk, i) ? CHUNK_E_NOMEM : CHUNK_OK;
}

void peers_route_drop(struct client_peers *p, uint64_t chunk)
{
	if (p->routes_ready)
		idmap_remove(&p->routes, chunk);
}

struct chunk_client *peers_take(struct client_peers *p)
{
	return p->count ? p->list[--p->count].client : NULL;
}

void peers_fini(struct client_peers *p)
{
	free(p->list);
	if (p->routes_ready)
		idmap_fini(&p->routes);
	memset(p, 0, sizeof(*p));
}
