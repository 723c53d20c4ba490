/*
 * What every request handler of the service shares: the lease epoch check,
 * an ERROR reply, and sending a reply at once or after the table answered
 * a held request. service.c and copies.c use them.
 *
 * Threading: the event-loop thread, as the service.
 */
#ifndef CHUNKD_SERVICE_ANSWER_H
#define CHUNKD_SERVICE_ANSWER_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/msg.h"
#include "request.h"
#include "service.h"

/* Turns *reply into an ERROR with a one-line reason. */
void answer_fail(struct proto_msg *reply, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Refuses a request made under epoch, which is not the lease's: STALE,
 * with the current epoch as detail. */
void answer_stale(const struct session *sess, uint32_t epoch,
		  struct proto_msg *r);

/* Refuses (-1) a request under an epoch that is not the lease's; renews
 * the lease otherwise (0). */
int answer_check_epoch(struct service *s, struct session *sess, uint32_t epoch,
		       struct proto_msg *r);

/* Counts and sends reply to sess. A reply that cannot be sent breaks the
 * connection, which the transport closes itself. */
void answer_send(struct service *s, struct session *sess,
		 const struct proto_msg *reply);

/* Counts the answer reply to req (NULL: a frame that did not decode),
 * begun at start_us, in the service's figures (service_counters). */
void answer_count(struct service *s, const struct proto_msg *req,
		  const struct proto_msg *reply, uint64_t start_us);

/* Answers a held request (unless its session is gone) and frees it. */
void answer_held(struct service *s, struct request *q);

/* Holds req for a table change; NULL (with *r an ERROR) when out of
 * memory. */
struct request *answer_hold(struct service *s, struct session *sess,
			    const struct proto_msg *req, struct proto_msg *r);

/* Grants q's session write or read access to len bytes of rec's chunk
 * (REQUEST_GRANTING meanwhile); done(q, rc, rkey) hears the outcome, now
 * or on a later turn, and answers. */
void answer_after_grant(struct request *q, const struct table_record *rec,
			bool write, uint64_t len, session_grant_fn *done);

/* Finds an OPEN chunk of this session: 0 and *rec, or -1 with *r an
 * ERROR. */
int answer_find_own_open(struct service *s, struct session *sess,
			 uint64_t chunk, struct table_record *rec,
			 struct proto_msg *r);

#endif
