/*
 * A TCP relay in front of one etcd member that, while told to, lets a
 * transaction reach etcd and drops etcd's answer: the request is applied
 * (or refused) by etcd and the asker hears only a closed connection. This
 * is what a leader dying between its commit and its reply does, made
 * deterministic for tests of "the outcome is unknown".
 *
 * Only answers to POST /v3/kv/txn are dropped; lease keep-alives and watch
 * streams pass. It serves on its own thread; the calls are thread-safe.
 */
#ifndef CHUNKD_TESTS_ANSWER_THIEF_H
#define CHUNKD_TESTS_ANSWER_THIEF_H

#include <stdbool.h>
#include <stddef.h>

struct answer_thief;

/* Relays 127.0.0.1:(a free port) to the etcd member at upstream
 * ("http://HOST:PORT"); writes its own endpoint into endpoint. Fails the
 * running test if it cannot. */
struct answer_thief *answer_thief_start(const char *upstream, char *endpoint,
					size_t len);

/* From now on, drop (or stop dropping) the answers to transactions. */
void answer_thief_steal(struct answer_thief *t, bool on);

/* How many answers were dropped so far. */
unsigned answer_thief_stolen(struct answer_thief *t);

/* Closes every connection and the thread; sets *t to NULL. */
void answer_thief_stop(struct answer_thief **t);

#endif
