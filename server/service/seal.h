/*
 * SEAL and SEAL_COPIES, in steps that keep the loop free (request.h):
 *
 *   REVOKING       the transport takes the session's write access away
 *                  (a worker deregisters the chunk's MR);
 *   CHECKING       then a worker computes the CRC32C of the content and,
 *                  when it matches the client's, persists it (sealed
 *                  content is durable even if the client never persisted);
 *   TABLE_PENDING  the table records the seal;
 *   GRANTING       a refused seal (CRC mismatch, or a copy the table
 *                  refused) gives write access back; its rkey travels in
 *                  the ERROR's detail.
 *
 * The CRC is read only after write access is gone, so what is checked is
 * what stays. Seals of up to SEAL_INLINE_BYTES are checked on the loop at
 * once: under emulation the CRC32C of 4 KiB takes 31 us (0.2 us on the
 * build host), less than handing it to a worker and hearing back; so are
 * all seals when there are no workers (s->workers NULL: tests, tools).
 *
 * Threading: the event-loop thread, as the service; the check's job on a
 * worker.
 */
#ifndef CHUNKD_SERVICE_SEAL_H
#define CHUNKD_SERVICE_SEAL_H

#include "proto/msg.h"
#include "service.h"

#define SEAL_INLINE_BYTES (4u << 10)

void seal_start(struct service *s, struct session *sess,
		const struct proto_msg *req, struct proto_msg *r);

#endif
