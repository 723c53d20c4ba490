/*
 * The shared secrets clients prove they hold (proto/auth.h). A secrets file
 * has one "NAME SECRET" per line ('#' starts a comment); NAME "*" is the
 * cluster secret, for any client without a line of its own. The file must
 * not be readable by group or others.
 */
#ifndef CHUNKD_SERVER_SECRETS_H
#define CHUNKD_SERVER_SECRETS_H

#include <stddef.h>

struct secrets;

/* Loads path. Returns 0 and sets *out, or a negative errno with a one-line
 * reason in err (missing, readable by others, a malformed line). */
int secrets_load(const char *path, struct secrets **out, char *err,
		 size_t err_len);

/* The secret for a client's name (or the cluster secret); NULL if none. */
const char *secrets_find(const struct secrets *s, const char *name);

/* Wipes and frees; sets *s to NULL. */
void secrets_free(struct secrets **s);

#endif
