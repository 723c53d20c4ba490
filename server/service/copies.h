/*
 * The service's requests about where chunks and their copies are (cluster
 * mode; outside it OPEN is answered from the pool alone):
 *
 *   OPEN        this pool's chunk (OPENED), where another chunkd holds it
 *               (ELSEWHERE), or a replicated chunk's live copies (COPIES,
 *               read from the table, so the request may be held)
 *   OPEN_COPY   this pool's copy itself
 *   REPLACE_COPY a repair's commit, which any chunkd makes
 *
 * Threading: the event-loop thread, as the service.
 */
#ifndef CHUNKD_SERVICE_COPIES_H
#define CHUNKD_SERVICE_COPIES_H

#include "proto/msg.h"
#include "service.h"

void copies_open(struct service *s, struct session *sess,
		 const struct proto_msg *req, struct proto_msg *r);

void copies_replace(struct service *s, struct session *sess,
		    const struct proto_msg *req, struct proto_msg *r);

/* The GRANT in r becomes PLACED: the first copy's grant, and where the
 * others go. */
void copies_placed(const struct table_copies *where, struct proto_msg *r);

#endif
