/*
 * One connection's capabilities: chunk MRs in its protection domain. Write
 * access to an OPEN chunk is an MR of exactly its bytes; read access to a
 * SEALED chunk is a read-only MR of its sealed bytes (docs/design.md,
 * "Capabilities").
 *
 * ibv_reg_mr pins every page of the chunk: on device-DAX in the guest,
 * 32 us for 4 KiB, 168 us for 1 MiB, 8.9 ms for 64 MiB. So large ones are
 * made on workers (workers/workers.h), and their grant completes through
 * a callback on the loop; up to RDMA_CAPS_INLINE_BYTES they are made on
 * the loop at once, since handing a job to a worker and hearing back
 * costs more than that under emulation. ibv_dereg_mr is cheap on average
 * (9 us for 4 KiB, 0.14 ms for 64 MiB) but on soft-RoCE it sometimes
 * waits hundreds of milliseconds (the device lets go of the MR late),
 * whatever the size: measured as persists stalled 0.3 to 0.7 s behind
 * seals of 4 KiB chunks (and 20 to 134 ms p99s when deregistrations up to
 * 64 KiB were tried on the loop again). So every asynchronous revoke (a
 * seal's, a lost lease's) runs on a worker, and a closed connection's MRs
 * are let go on one (rdma_caps_retire). A revoke that must be over when it
 * returns (a free's) deregisters at once, after taking back whatever a
 * worker was doing for that capability: no write through a revoked rkey
 * lands after the revoke returns, and an MR still being registered is
 * never handed out.
 *
 * Threading: the event-loop thread, as the connection.
 */
#ifndef CHUNKD_SERVER_RDMA_CAPS_H
#define CHUNKD_SERVER_RDMA_CAPS_H

#include <infiniband/verbs.h>
#include <stdbool.h>
#include <stdint.h>

#include "service/service.h"
#include "workers/workers.h"

struct rdma_caps;

/* Capabilities of up to this many bytes are made at once. */
#define RDMA_CAPS_INLINE_BYTES (64u << 10)

/* For pd (borrowed: it must outlive the caps, unless rdma_caps_retire()
 * takes it over), with MRs registered and deregistered by pool. peer
 * names the client in logs (copied). Returns NULL when out of memory. */
struct rdma_caps *rdma_caps_new(struct ibv_pd *pd, struct workers *pool,
				const char *peer);

/* Takes back every job out, deregisters every MR, and tells waiting
 * grants -ECANCELED and waiting revokes that they are done (from within
 * this call). Sets *c to NULL; NULL is fine. */
void rdma_caps_free(struct rdma_caps **c);

/* The connection's QP is destroyed, so no rkey of its PD (the
 * connection's own) reaches memory any more: ends every capability as
 * rdma_caps_free() does (waiting grants hear -ECANCELED and waiting
 * revokes that they are done, from within this call; a job a worker runs
 * for one is waited for), but deregisters the MRs and deallocates the PD,
 * which it takes over, on a worker: the loop never waits for the device
 * to let go of them. Until that job is back, the set stays on *retired
 * (the owner's list). A set that holds no capability (a connection that
 * never got a chunk) deallocates the PD at once, with no hand-off. Sets
 * *c to NULL; NULL is fine. */
void rdma_caps_retire(struct rdma_caps **c, struct rdma_caps **retired);

/* Finishes every set on *retired now, deregistering on this thread (a
 * stop: the workers go next). */
void rdma_caps_finish_retired(struct rdma_caps **retired);

/* Grants access to len bytes at addr with access flags: 0 and *rkey when
 * the connection holds that access already (or len is 0: rkey 0),
 * -EINPROGRESS when done will be called on a later turn (rc 0 and the
 * rkey, a negative errno, or -ECANCELED when revoked before it was made),
 * or a negative errno at once. */
int rdma_caps_grant(struct rdma_caps *c, uint64_t chunk, bool write,
		    uint8_t *addr, uint64_t len, int access, uint32_t *rkey,
		    session_grant_fn *done, void *arg);

/* Revokes now: when this returns, no access through the old rkey lands.
 * A no-op when there is none. */
void rdma_caps_revoke(struct rdma_caps *c, uint64_t chunk, bool write);

/* Revokes without blocking the loop: 0 when there was nothing to revoke,
 * or -EINPROGRESS and done on a later turn, once no access through the old
 * rkey can land. From this call on, the capability is gone for grants. An
 * asynchronous revoke of the same capability still under way is finished
 * at once, as rdma_caps_revoke() does (it has one revoker to tell). */
int rdma_caps_revoke_async(struct rdma_caps *c, uint64_t chunk, bool write,
			   session_revoked_fn *done, void *arg);

/* How many MRs it holds or is making (for tests and stats). */
unsigned rdma_caps_count(const struct rdma_caps *c);

#endif
