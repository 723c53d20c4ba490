/*
 * libchunkclient's connect and disconnect: the top of the library. It
 * builds a client from its layers (the connection in client.c, the lease
 * renewer, the asynchronous operations, registered memory) and routes the
 * connection's completions up to them through client_upper, so that no
 * lower file calls an upper one by name.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "async.h"
#include "client.h"
#include "common/log.h"
#include "export.h"
#include "mem.h"
#include "persist_method.h"
#include "renewer.h"

static void on_tick(struct chunk_client *c)
{
	if (renewer_due(c))
		renewer_post(c);
}

static bool on_reply(struct chunk_client *c, const struct proto_msg *reply)
{
	return renewer_take_reply(c, reply) || async_take_reply(c, reply);
}

static void on_lost(struct chunk_client *c, int status)
{
	async_fail_all(c, status);
	renewer_forget(c);
}

static const struct client_upper upper = {
	.tick = on_tick,
	.take_reply = on_reply,
	.rdma_done = async_rdma_done,
	.run_finished = async_run_finished,
	.lost = on_lost,
};

/* The method for the client's session: the cheapest chunkd offers and
 * the application allows; persist-rpc, which chunkd always offers, when
 * they share none. */
static void choose_persist_method(struct chunk_client *c)
{
	c->persist =
		persist_method_choose(c->sess.persist_offered,
				      c->opts.persist_methods, c->qpx != NULL);
	if (!c->persist) {
		log_warn("chunkd offers none of the persistence methods "
			 "allowed (0x%x); using persist-rpc",
			 c->opts.persist_methods);
		c->persist = persist_method_choose(CHUNK_PERSIST_RPC,
						   CHUNK_PERSIST_RPC, false);
	}
	log_info("session %llu persists with %s",
		 (unsigned long long)c->sess.id, c->persist->name);
}

static void free_layers(struct chunk_client *c)
{
	client_mem_orphan_all(c);
	renewer_fini(c);
	client_free(c);
}

/* Connects a client; a peer (owner not NULL) shares its owner's
 * protection domain where it can. */
static int connect_client(const char *host, uint16_t port,
			  const struct chunk_client_opts *opts,
			  struct chunk_client *owner,
			  struct chunk_client **client)
{
	struct chunk_client *c;
	int rc;

	if (!host || !client || strlen(host) >= sizeof(c->host) ||
	    (opts &&
	     opts->size < offsetof(struct chunk_client_opts, poll_us)) ||
	    (opts &&
	     opts->size > offsetof(struct chunk_client_opts, max_in_flight) &&
	     opts->max_in_flight > CHUNK_MAX_IN_FLIGHT))
		return CHUNK_E_INVAL;
	rc = client_new(host, port, opts, &upper, &c);
	if (rc)
		return rc;
	c->pd_owner = owner;
	rc = renewer_init(&c->renewer);
	if (rc) {
		client_free(c);
		return rc;
	}
	rc = client_connect_first(c);
	if (rc == CHUNK_OK)
		choose_persist_method(c);
	if (rc == CHUNK_OK && c->opts.renew_lease)
		rc = renewer_start(c);
	if (rc) {
		free_layers(c);
		return rc;
	}
	*client = c;
	return CHUNK_OK;
}

CHUNK_EXPORT int chunk_client_connect(const char *host, uint16_t port,
				      const struct chunk_client_opts *opts,
				      struct chunk_client **client)
{
	return connect_client(host, port, opts, NULL, client);
}

int client_connect_peer(struct chunk_client *c, const char *host, uint16_t port,
			struct chunk_client **peer)
{
	int rc;

	*peer = peers_find(&c->peers, host, port);
	if (*peer)
		return CHUNK_OK;
	log_info("session %llu: connecting to chunkd at %s port %u, which "
		 "holds a chunk asked for",
		 (unsigned long long)c->sess.id, host, port);
	rc = connect_client(host, port, &c->opts, c, peer);
	if (rc)
		return rc;
	(*peer)->is_peer = true;
	rc = client_wake_for(c, *peer);
	if (rc == CHUNK_OK)
		rc = peers_add(&c->peers, host, port, *peer);
	if (rc)
		chunk_client_disconnect(peer);
	return rc;
}

bool client_is_at(const struct chunk_client *c, const char *host, uint16_t port)
{
	return c->port == port && !strcmp(c->host, host);
}

int client_connect_to(struct chunk_client *c, const char *host, uint16_t port,
		      struct chunk_client **conn)
{
	if (client_is_at(c, host, port)) {
		*conn = c;
		return CHUNK_OK;
	}
	return client_connect_peer(c, host, port, conn);
}

/* The connections to other servers go with their owner. */
static void disconnect_peers(struct chunk_client *c)
{
	struct chunk_client *peer;

	replica_sets_fini(&c->replicas); /* they point at the peers */
	while ((peer = peers_take(&c->peers)))
		chunk_client_disconnect(&peer);
	peers_fini(&c->peers);
}

CHUNK_EXPORT void chunk_client_disconnect(struct chunk_client **client)
{
	struct chunk_client *c = client ? *client : NULL;

	if (!c)
		return;
	disconnect_peers(c);
	renewer_stop(c);
	client_disconnect_cm(c);
	free_layers(c);
	*client = NULL;
}

CHUNK_EXPORT unsigned
chunk_client_persist_method(const struct chunk_client *client)
{
	return client->persist->flag;
}
