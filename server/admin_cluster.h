/*
 * The admin socket's answers that etcd gives, in cluster mode: a chunk's
 * live copies (chunk_show), the members and replication (cluster), the
 * under-replicated chunks (under_replicated). Each may come on a later
 * turn of the loop (admin_reply.h).
 *
 * Threading: the event-loop thread only, as the admin.
 */
#ifndef CHUNKD_SERVER_ADMIN_CLUSTER_H
#define CHUNKD_SERVER_ADMIN_CLUSTER_H

#include <event2/bufferevent.h>
#include <jansson.h>

#include "admin_reply.h"
#include "cluster/cluster.h"
#include "service/service.h"
#include "table/table.h"

/* What these answers read; it outlives the admin's replies that wait. */
struct admin_view {
	struct service *svc;
	struct table *table;
	struct cluster *cluster; /* NULL: not in cluster mode */
	struct admin_pending *pending;
};

/* Each returns the reply, or NULL when it comes later to bev. */
json_t *admin_show_chunk(const struct admin_view *v,
			 const struct table_record *r, struct bufferevent *bev);
json_t *admin_cluster(const struct admin_view *v, struct bufferevent *bev);
json_t *admin_under_replicated(const struct admin_view *v,
			       struct bufferevent *bev);

#endif
