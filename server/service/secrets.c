#include "secrets.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "proto/msg.h"

struct secret_entry {
	char name[PROTO_NAME_MAX + 1];
	char *secret;
};

struct secrets {
	struct secret_entry *entries;
	size_t count;
};

static int add_entry(struct secrets *s, const char *name, const char *secret)
{
	struct secret_entry *grown =
		realloc(s->entries, (s->count + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	s->entries = grown;
	snprintf(grown[s->count].name, sizeof(grown[s->count].name), "%s",
		 name);
	grown[s->count].secret = strdup(secret);
	if (!grown[s->count].secret)
		return -ENOMEM;
	s->count++;
	return 0;
}

/* Parses one line; returns 0, 1 for a blank line, or -EINVAL. */
static int parse_line(struct secrets *s, char *line)
{
	char *name, *secret, *extra, *save;

	line[strcspn(line, "#\n")] = '\0';
	name = strtok_r(line, " \t", &save);
	if (!name)
		return 1;
	secret = strtok_r(NULL, " \t", &save);
	extra = strtok_r(NULL, " \t", &save);
	if (!secret || extra || strlen(name) > PROTO_NAME_MAX)
		return -EINVAL;
	return add_entry(s, name, secret);
}

int secrets_load(const char *path, struct secrets **out, char *err,
		 size_t err_len)
{
	struct secrets *s = calloc(1, sizeof(*s));
	FILE *f = fopen(path, "r");
	struct stat st;
	char line[512];
	int lineno = 0, rc = 0;

	if (!s || !f) {
		snprintf(err, err_len, "cannot read secrets file %s: %s", path,
			 strerror(errno));
		rc = -ENOENT;
	} else if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		snprintf(err, err_len,
			 "secrets file %s is readable by others; chmod 600 it",
			 path);
		rc = -EPERM;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		rc = parse_line(s, line);
		if (rc == 1)
			rc = 0;
		else if (rc)
			snprintf(err, err_len, "%s:%d: want NAME SECRET", path,
				 lineno);
	}
	sodium_memzero(line, sizeof(line));
	if (f)
		fclose(f);
	if (rc) {
		secrets_free(&s);
		return rc;
	}
	*out = s;
	return 0;
}

const char *secrets_find(const struct secrets *s, const char *name)
{
	const char *cluster = NULL;

	for (size_t i = 0; i < s->count; i++) {
		if (!strcmp(s->entries[i].name, name))
			return s->entries[i].secret;
		if (!strcmp(s->entries[i].name, "*"))
			cluster = s->entries[i].secret;
	}
	return cluster;
}

void secrets_free(struct secrets **ps)
{
	struct secrets *s = *ps;

	if (!s)
		return;
	for (size_t i = 0; i < s->count; i++) {
		sodium_memzero(s->entries[i].secret,
			       strlen(s->entries[i].secret));
		free(s->entries[i].secret);
	}
	free(s->entries);
	free(s);
	*ps = NULL;
}
