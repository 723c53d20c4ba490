/* libchunkclient's registered memory: writes and reads without a copy. */
#include <stdlib.h>

#include "mem.h"
#include "common/log.h"
#include "export.h"

static int mem_reg_locked(struct chunk_client *c, void *addr, size_t len,
			  struct chunk_mem **mem)
{
	struct chunk_mem *m;

	if (!c || !addr || len == 0 || !mem)
		return CHUNK_E_INVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return CHUNK_E_NOMEM;
	m->mr = ibv_reg_mr(c->pd, addr, len, IBV_ACCESS_LOCAL_WRITE);
	if (!m->mr) {
		log_error("ibv_reg_mr of %zu bytes failed", len);
		free(m);
		return CHUNK_E_NOMEM;
	}
	m->client = c;
	m->next = c->mems;
	c->mems = m;
	*mem = m;
	return CHUNK_OK;
}

CHUNK_EXPORT void chunk_mem_dereg(struct chunk_mem **mem)
{
	struct chunk_mem *m = mem ? *mem : NULL, **p;
	struct chunk_client *c;

	if (!m)
		return;
	c = m->client;
	if (!c) { /* its client is gone, and with it the registration */
		free(m);
		*mem = NULL;
		return;
	}
	client_lock(c);
	for (p = &m->client->mems; *p && *p != m; p = &(*p)->next)
		;
	if (*p)
		*p = m->next;
	ibv_dereg_mr(m->mr);
	free(m);
	*mem = NULL;
	client_unlock(c);
}

void client_mem_orphan_all(struct chunk_client *c)
{
	while (c->mems) {
		struct chunk_mem *m = c->mems;

		c->mems = m->next;
		ibv_dereg_mr(m->mr);
		/* The handle is the application's: chunk_mem_dereg frees it. */
		*m = (struct chunk_mem){0};
	}
}

struct ibv_mr *client_mem_find(struct chunk_client *c, const void *addr,
			       size_t len)
{
	uintptr_t a = (uintptr_t)addr;
	const struct chunk_client *holder = c->pd_shared ? c->pd_owner : c;

	for (struct chunk_mem *m = holder->mems; m; m = m->next) {
		uintptr_t start = (uintptr_t)m->mr->addr;

		if (a >= start && a - start <= m->mr->length &&
		    len <= m->mr->length - (a - start))
			return m->mr;
	}
	return NULL;
}

/* The public entry points: each holds the client's lock (see client.h). */

CHUNK_EXPORT int chunk_mem_reg(struct chunk_client *c, void *addr, size_t len,
			       struct chunk_mem **mem)
{
	int rc;

	if (!c)
		return CHUNK_E_INVAL;
	client_lock(c);
	rc = mem_reg_locked(c, addr, len, mem);
	client_unlock(c);
	return rc;
}
