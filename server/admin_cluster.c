/* What the admin socket reads from etcd in cluster mode (admin_cluster.h). */
#include "admin_cluster.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "admin_reply.h"
#include "service/stats.h"

/* Adds the live copies to the chunk's record (a replicated chunk). */
static void show_copies_done(void *arg, const struct table_result *res)
{
	struct admin_later *l = arg;
	json_t *copies = json_array();

	for (unsigned i = 0; copies && i < res->copies.count; i++)
		json_array_append_new(
			copies,
			json_pack("{s:I, s:s, s:i}", "id",
				  (json_int_t)res->copies.copy[i].id, "address",
				  res->copies.copy[i].loc.address, "port",
				  (int)res->copies.copy[i].loc.port));
	if (res->status == 0 && copies && res->copies.count)
		json_object_set_new(l->partial, "copies", copies);
	else
		json_decref(copies);
	admin_later_answer(
		l, res->status
			   ? admin_error(EIO, "reading the chunk's copies: %s",
					 strerror(-res->status))
			   : admin_ok(json_pack("{s:O}", "chunk", l->partial)));
}

json_t *admin_show_chunk(const struct admin_view *v,
			 const struct table_record *r, struct bufferevent *bev)
{
	struct admin_later *l =
		admin_later_new(v->pending, bev, admin_record_json(r), v);

	if (!l)
		return admin_error(EIO, "out of memory");
	table_copies(v->table, r->id, show_copies_done, l);
	return admin_later_started(l);
}

static bool add_member(const struct member *m, void *arg)
{
	json_array_append_new(
		arg,
		json_pack("{s:s, s:s, s:i, s:I, s:s, s:I, s:I, s:I, s:I, "
			  "s:b}",
			  "name", m->name, "address", m->address, "port",
			  (int)m->port, "node", (json_int_t)m->node, "pool",
			  m->pool, "pool_size", (json_int_t)m->pool_size,
			  "free", (json_int_t)m->free_bytes, "open",
			  (json_int_t)m->open_chunks, "sealed",
			  (json_int_t)m->sealed_chunks, "alive", 1));
	return true;
}

static json_t *not_in_a_cluster(void)
{
	return admin_error(ENOENT, "this chunkd is not in a cluster (no "
				   "[cluster] endpoints)");
}

/* The replication figures: replicated chunks, by copies, under-replicated
 * (a copy on a server not running), and repairs this chunkd committed. */
static json_t *replication_json(const struct admin_view *v,
				const struct placed_chunk *list, size_t n)
{
	json_t *by = json_object();
	uint64_t under = 0;
	struct service_stats st;
	char key[8];

	for (size_t i = 0; i < n; i++) {
		json_t *seen;

		snprintf(key, sizeof(key), "%u", list[i].count);
		seen = json_object_get(by, key);
		json_object_set_new(
			by, key,
			json_integer(seen ? json_integer_value(seen) + 1 : 1));
		under += placed_under_replicated(&list[i]);
	}
	service_stats(v->svc, &st);
	return json_pack("{s:I, s:o, s:I, s:I}", "chunks", (json_int_t)n,
			 "by_copies", by, "under_replicated", (json_int_t)under,
			 "copies_replaced_here",
			 (json_int_t)st.counters.copies_replaced);
}

static void cluster_scanned(void *arg, int status,
			    const struct placed_chunk *list, size_t n)
{
	struct admin_later *l = arg;

	if (!l->pending) { /* the admin stopped */
		admin_later_answer(l, NULL);
		return;
	}
	json_object_set_new(l->partial, "replicated",
			    status ? json_null()
				   : replication_json(l->ctx, list, n));
	admin_later_answer(l, admin_ok(json_incref(l->partial)));
}

/* The cluster as this chunkd sees it: the live members (registered under
 * a lease etcd keeps), from its watch of them, and replication from etcd. */
json_t *admin_cluster(const struct admin_view *v, struct bufferevent *bev)
{
	json_t *members, *partial;
	struct admin_later *l;

	if (!v->cluster)
		return not_in_a_cluster();
	members = json_array();
	if (members)
		cluster_members(v->cluster, add_member, members);
	partial = json_pack("{s:s, s:s, s:s, s:o}", "self",
			    cluster_self(v->cluster)->name, "endpoints",
			    cluster_endpoints(v->cluster), "etcd",
			    cluster_etcd_reachable(v->cluster) ? "reachable"
							       : "unreachable",
			    "members", members);
	l = partial ? admin_later_new(v->pending, bev, partial, v) : NULL;
	if (!l)
		return admin_error(EIO, "out of memory");
	if (cluster_scan_placed(v->cluster, cluster_scanned, l)) {
		json_object_set_new(partial, "replicated", json_null());
		admin_later_answer(l, admin_ok(json_incref(partial)));
	}
	return admin_later_started(l);
}

/* One under-replicated chunk: each copy, and where it is if it runs. */
static json_t *placed_json(const struct admin_view *v,
			   const struct placed_chunk *p)
{
	json_t *copies = json_array();
	struct member m;

	for (unsigned i = 0; copies && i < p->count; i++) {
		bool runs = p->running[i] &&
			    cluster_find_node(v->cluster,
					      cluster_id_node(p->copies[i]),
					      &m) == 0;

		json_array_append_new(copies,
				      json_pack("{s:I, s:b, s:s, s:i}", "id",
						(json_int_t)p->copies[i],
						"running", runs, "address",
						runs ? m.address : "", "port",
						runs ? (int)m.port : 0));
	}
	return json_pack("{s:I, s:o}", "id", (json_int_t)p->chunk, "copies",
			 copies);
}

static void under_scanned(void *arg, int status,
			  const struct placed_chunk *list, size_t n)
{
	struct admin_later *l = arg;
	json_t *chunks;

	if (!l->pending || status) {
		admin_later_answer(l, admin_error(EIO, "reading etcd: %s",
						  strerror(-status)));
		return;
	}
	chunks = json_array();
	for (size_t i = 0; chunks && i < n; i++)
		if (placed_under_replicated(&list[i]))
			json_array_append_new(chunks,
					      placed_json(l->ctx, &list[i]));
	admin_later_answer(l, admin_ok(json_pack("{s:o}", "chunks", chunks)));
}

json_t *admin_under_replicated(const struct admin_view *v,
			       struct bufferevent *bev)
{
	struct admin_later *l;

	if (!v->cluster)
		return not_in_a_cluster();
	l = admin_later_new(v->pending, bev, NULL, v);
	if (!l)
		return admin_error(EIO, "out of memory");
	if (cluster_scan_placed(v->cluster, under_scanned, l))
		admin_later_answer(l, admin_error(EIO, "out of memory"));
	return admin_later_started(l);
}
