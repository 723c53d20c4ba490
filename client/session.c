/* libchunkclient's session: a client's options and making, HELLO (with
 * authentication), reconnecting after a failure, and freeing (client.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "common/log.h"
#include "export.h"
#include "proto/auth.h"

CHUNK_EXPORT void chunk_client_opts_init(struct chunk_client_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->size = sizeof(*opts);
	opts->timeout_ms = 10000;
	opts->bounce_size = 1u << 20;
	opts->poll_us = 50;
	opts->persist_methods = CHUNK_PERSIST_RPC |
				CHUNK_PERSIST_READ_AFTER_WRITE |
				CHUNK_PERSIST_NATIVE_FLUSH;
	opts->renew_lease = 1;
	opts->max_in_flight = CHUNK_MAX_ASYNC;
}

static int greet(struct chunk_client *c)
{
	struct proto_msg hello = {.hdr.type = PROTO_HELLO};
	const char *name = c->opts.auth_name ? c->opts.auth_name : "";
	int rc;

	if (strlen(name) > PROTO_NAME_MAX)
		return CHUNK_E_INVAL;
	hello.u.hello.name_len = (uint8_t)strlen(name);
	memcpy(hello.u.hello.name, name, strlen(name) + 1);
	if (c->opts.auth_secret) {
		auth_answer(c->opts.auth_secret, c->opts.auth_secret_len,
			    c->sess.nonce, name, hello.u.hello.mac);
		hello.u.hello.mac_len = PROTO_MAC_LEN;
	}
	rc = client_call(c, &hello);
	if (rc == CHUNK_E_AUTH)
		log_error("%s port %u refused the authentication of '%s': %s",
			  c->host, c->port, name, c->calls.reply.u.error.text);
	if (rc)
		return rc;
	if (c->calls.reply.hdr.type != PROTO_WELCOME)
		return CHUNK_E_PROTO;
	c->sess.id = c->calls.reply.u.welcome.session;
	c->sess.epoch = c->calls.reply.u.welcome.epoch;
	__atomic_store_n(&c->sess.lease_ttl_ms,
			 c->calls.reply.u.welcome.lease_ttl_ms,
			 __ATOMIC_RELAXED);
	c->sess.persist_offered = c->calls.reply.u.welcome.persist_methods;
	log_info("connected to %s port %u: session %llu", c->host, c->port,
		 (unsigned long long)c->sess.id);
	return CHUNK_OK;
}

int client_reconnect(struct chunk_client *c)
{
	int rc;

	c->upper->lost(c, c->wc_error ? c->wc_error : CHUNK_E_CONNECT);
	chunk_cache_lose_open(&c->cache, true);
	client_conn_close(c);
	rc = client_conn_open(c);
	return rc ? rc : greet(c);
}

static void take_opts(struct chunk_client *c, const struct chunk_client_opts *o)
{
	chunk_client_opts_init(&c->opts);
	if (!o)
		return;
	/* Only the fields the caller's version of the struct has. */
	memcpy(&c->opts, o, o->size < sizeof(*o) ? o->size : sizeof(*o));
	c->opts.size = sizeof(c->opts);
	if (c->opts.bounce_size < 4096)
		c->opts.bounce_size = 4096;
	if (c->opts.timeout_ms == 0)
		c->opts.timeout_ms = 10000;
	if (c->opts.max_in_flight == 0)
		c->opts.max_in_flight = CHUNK_MAX_ASYNC;
}

static int init_lock(struct chunk_client *c)
{
	pthread_mutexattr_t ma;
	int rc;

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	rc = pthread_mutex_init(&c->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	return rc ? CHUNK_E_NOMEM : CHUNK_OK;
}

int client_new(const char *host, uint16_t port,
	       const struct chunk_client_opts *opts,
	       const struct client_upper *upper, struct chunk_client **out)
{
	struct chunk_client *c = calloc(1, sizeof(*c));

	if (!c || init_lock(c)) {
		free(c);
		return CHUNK_E_NOMEM;
	}
	c->upper = upper;
	c->wake_fd = -1;
	take_opts(c, opts);
	memcpy(c->host, host, strlen(host) + 1);
	c->port = port;
	c->async.ops = calloc(c->opts.max_in_flight, sizeof(*c->async.ops));
	if (chunk_cache_init(&c->cache) || !c->async.ops) {
		client_free(c);
		return CHUNK_E_NOMEM;
	}
	*out = c;
	return CHUNK_OK;
}

int client_connect_first(struct chunk_client *c)
{
	if (auth_init())
		return CHUNK_E_INTERNAL;
	int rc = client_conn_start(c);

	return rc ? rc : greet(c);
}

void client_free(struct chunk_client *c)
{
	client_conn_release(c);
	chunk_cache_fini(&c->cache);
	free(c->async.ops);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

CHUNK_EXPORT unsigned long long
chunk_client_session(const struct chunk_client *client)
{
	return client->sess.id;
}

int client_finish(struct chunk_client *c, int rc)
{
	int failed = c->wc_error;

	if (!failed)
		return rc;
	if (client_reconnect(c))
		log_error("reconnecting to %s port %u failed", c->host,
			  c->port);
	else
		log_warn("reconnected to %s port %u as session %llu after: %s",
			 c->host, c->port, (unsigned long long)c->sess.id,
			 chunk_strerror(failed));
	return failed;
}
