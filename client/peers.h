/*
 * The other chunkd servers a client reached on its own, in cluster mode:
 * a chunk that lives in another chunkd's pool is opened and read through a
 * connection to that chunkd, made with the client's options when a server
 * first answers ELSEWHERE, and kept until the client disconnects. Which
 * chunk goes through which connection is remembered here.
 *
 * Threading: under the owning client's lock. A peer is a client of its
 * own, with its own lock, taken after the owner's and never the reverse.
 */
#ifndef CHUNKD_CLIENT_PEERS_H
#define CHUNKD_CLIENT_PEERS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/idmap.h"

struct chunk_client;

struct client_peer {
	char host[64];
	uint16_t port;
	struct chunk_client *client;
};

struct client_peers {
	struct client_peer *list;
	unsigned count, cap;
	struct idmap routes; /* chunk id -> index in list */
	bool routes_ready;
};

/* The connection to host:port, or NULL if there is none yet. */
struct chunk_client *peers_find(struct client_peers *p, const char *host,
				uint16_t port);

/* Keeps peer as the connection to host:port; CHUNK_E_NOMEM. */
int peers_add(struct client_peers *p, const char *host, uint16_t port,
	      struct chunk_client *peer);

/* The connection chunk goes through, or NULL (the client's own). */
struct chunk_client *peers_route(struct client_peers *p, uint64_t chunk);

/* Sends chunk through peer from now on; CHUNK_E_NOMEM. */
int peers_route_add(struct client_peers *p, uint64_t chunk,
		    struct chunk_client *peer);

void peers_route_drop(struct client_peers *p, uint64_t chunk);

/* Removes and returns one connection (NULL when none is left), for the
 * owner to close; then frees what p holds. */
struct chunk_client *peers_take(struct client_peers *p);
void peers_fini(struct client_peers *p);

#endif
