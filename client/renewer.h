/*
 * libchunkclient's lease renewer. Not installed.
 *
 * A session's lease lives while chunkd hears from it; a client whose calls
 * are all one-sided (read-after-write persists, reads) sends chunkd
 * nothing, so the library renews for it with a RENEW request. That request
 * never waits for the client's lock while the application holds it: the
 * renewer thread only notices that the lease has been quiet for a third of
 * its TTL and marks a renewal due. Whoever holds the lock next posts the
 * RENEW without waiting for its answer: the application on entering any
 * call (or inside a long wait), or the renewer itself when the lock is
 * free. The answer is taken by whichever thread polls the completions.
 * So a busy application pays one SEND per third of a TTL and no round
 * trip, and an idle one is renewed by the thread.
 */
#ifndef CHUNKD_CLIENT_RENEWER_H
#define CHUNKD_CLIENT_RENEWER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/msg.h"

struct chunk_client;

struct renewer {
	/* The thread sleeps on wake under lock, which also guards stopping;
	 * it takes the client's lock only with trylock. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running, stopping;
	bool due;	    /* atomic: a renewal should be posted */
	uint64_t in_flight; /* request id of a posted RENEW; client's lock */
};

/* Sets up r (no thread yet). Returns 0 or CHUNK_E_NOMEM. */
int renewer_init(struct renewer *r);

/* Starts the thread for c. Returns 0 or CHUNK_E_NOMEM. */
int renewer_start(struct chunk_client *c);

/* Stops the thread, if any; the client's lock must not be held. */
void renewer_stop(struct chunk_client *c);

/* Stops the thread and frees what renewer_init() made. */
void renewer_fini(struct chunk_client *c);

/* Whether a renewal is due and not yet posted (cheap: one atomic load). */
bool renewer_due(const struct chunk_client *c);

/* Under the client's lock: posts a RENEW when one is due and none is in
 * flight and a send slot is free; its answer comes later. */
void renewer_post(struct chunk_client *c);

/* Under the client's lock, for each reply received: whether it answers the
 * RENEW in flight (then it is taken: the lease's TTL and renewal time are
 * updated, or a lost lease's new epoch adopted). */
bool renewer_take_reply(struct chunk_client *c, const struct proto_msg *reply);

/* The connection was dropped: no RENEW is in flight any more. */
void renewer_forget(struct chunk_client *c);

#endif
