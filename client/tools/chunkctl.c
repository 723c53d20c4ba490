/*
 * chunkctl: the operator's command-line tool for chunkd. It talks to
 * chunkd's admin socket (one JSON request and reply per line; see
 * server/admin.h) and prints tables, or the reply itself with --json.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "chunkclient.h"
#include "json_fields.h"
#include "repair_agent.h"
#include "scrub_watch.h"

#define DEFAULT_SOCKET "/run/chunkd/chunkd.sock"
#define DEFAULT_TIMEOUT                                                        \
	30 /* seconds; a scrub of a large pool takes a while                   \
	    */

enum exit_code {
	EXIT_OK = 0,	      /* done */
	EXIT_REFUSED = 1,     /* chunkd refused or reported a failure */
	EXIT_USAGE = 2,	      /* bad command line */
	EXIT_UNREACHABLE = 3, /* no chunkd answers on the socket */
};

struct ctl {
	const char *socket;
	unsigned timeout_s; /* for chunkd's answer */
	bool json;
};

static const char usage_text[] =
	"Usage: chunkctl [--socket PATH] [--json] COMMAND [ARGS]\n"
	"\n"
	"Administers a running chunkd through its admin socket.\n"
	"\n"
	"Commands:\n"
	"  status                       pool, chunks, sessions, persistence,\n"
	"                               refused authentications\n"
	"  leases                       every session's lease\n"
	"  lease show|renew|revoke ID   one lease; renew extends it by a TTL;\n"
	"                               revoke takes its write access and its\n"
	"                               unsealed chunks now\n"
	"  chunks [--state open|sealed] the chunks in the table\n"
	"  chunk show|free ID           one chunk; free revokes every grant of it\n"
	"  verify [--rate MBPS]         scrub sealed chunks against their CRC32C\n"
	"                               in the background, and wait for the end\n"
	"  verify --status              the current (or last) scrub's progress\n"
	"  cluster                      cluster mode: the live members, their\n"
	"                               free space and chunk counts, and\n"
	"                               replication (chunks under-replicated)\n"
	"  repair [--dry-run] [--watch] [--grace-s N]\n"
	"                               cluster mode: copy every chunk's copies\n"
	"                               on lost servers to running ones\n"
	"\n"
	"Options:\n"
	"  -s, --socket PATH  chunkd's admin socket (default " DEFAULT_SOCKET
	")\n"
	"  -j, --json         print chunkd's JSON reply instead of a table\n"
	"  -t, --timeout S    wait at most S seconds for chunkd's answer\n"
	"                     (default 30)\n"
	"  -h, --help         this help; COMMAND --help for one command's\n"
	"  -V, --version      the version\n"
	"\n"
	"Exit status: 0 done, 1 chunkd refused or found a problem (verify: a\n"
	"mismatch), or this user may not use the socket, 2 usage error (checked\n"
	"before chunkd is asked), 3 no chunkd answers on the socket (or not in\n"
	"time).\n";

/* One command's help, for COMMAND --help. */
static const char *command_help(const char *cmd)
{
	static const struct {
		const char *cmd, *text;
	} helps[] = {
		{"status",
		 "Usage: chunkctl status\nPool size, used and free bytes, chunks by state, sessions, the\npersistence methods offered, refused authentications, counters.\n"},
		{"leases",
		 "Usage: chunkctl leases\nOne line per session: lease id, client address, epoch, OPEN chunks\nheld and their bytes, milliseconds until the lease expires.\n"},
		{"lease",
		 "Usage: chunkctl lease show|renew|revoke ID\nshow: one lease. renew: extend it by one TTL from now. revoke:\nrevoke the session's write access and reclaim its unsealed chunks\nbefore returning; its sealed chunks stay.\n"},
		{"chunks",
		 "Usage: chunkctl chunks [--state open|sealed]\nEvery chunk in the table, or those in one state.\n"},
		{"chunk",
		 "Usage: chunkctl chunk show|free ID\nshow: one chunk's record, and in cluster mode the live copies of a\nreplicated chunk. free: revoke every grant of the chunk\n(its owner's write, every reader's read) and free it.\n"},
		{"cluster",
		 "Usage: chunkctl cluster\nCluster mode: whether etcd answers this chunkd, and every live member\n(registered under an etcd lease it keeps alive): name, address, port,\nits pool's node number, pool size, free bytes, OPEN and SEALED chunks.\nA member that dies leaves the list within its lease's TTL.\n"},
		{"repair",
		 "Usage: chunkctl repair [--dry-run] [--watch] [--grace-s N]\n"
		 "                       [--auth-name NAME] [--secret-file FILE]\n"
		 "Cluster mode: for every sealed replicated chunk with a copy on a\n"
		 "chunkd that is not running, make a new copy on the running chunkd\n"
		 "with the most free bytes that holds none of its copies, read from a\n"
		 "live copy over RDMA (this chunkd's address, as a client of it), the\n"
		 "CRC32C checked there, and commit it in the lost copy's place with a\n"
		 "revision-compared etcd transaction. One line per copy. --dry-run only\n"
		 "says what it would do; --watch repairs once a second until killed,\n"
		 "each copy once it has been lost --grace-s seconds (default 0).\n"
		 "--auth-name and --secret-file authenticate the RDMA session where\n"
		 "chunkd requires it. Exit 1 if a copy could not be repaired.\n"},
		{"verify",
		 "Usage: chunkctl verify [--rate MBPS]\n"
		 "       chunkctl verify --status\n"
		 "Start chunkd's background scrub (or join the one that runs): a worker\n"
		 "reads every sealed chunk and compares it with its CRC32C, at most\n"
		 "MBPS MB/s (default: chunkd's [scrub] rate_mb_s; 0: no limit), while\n"
		 "chunkd goes on serving. Waits for the end, then prints the chunks\n"
		 "and bytes checked and the id of each chunk that differs; exit 1 if\n"
		 "any does (chunkd logs each). --status prints the current or last\n"
		 "scrub's progress and returns at once.\n"},
	};

	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (!strcmp(helps[i].cmd, cmd))
			return helps[i].text;
	return NULL;
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "chunkctl: %s%s%s%s; see chunkctl --help\n", what,
		arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
	return EXIT_USAGE;
}

/* A chunkd that accepts but never answers (wedged, or out of descriptors)
 * must not hang the operator's shell. */
static void set_timeout(int fd, unsigned seconds)
{
	struct timeval tv = {.tv_sec = seconds};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Sends one request line and reads the reply line; NULL if unreachable
 * (*denied: because this user may not use the socket). */
static json_t *ask(const struct ctl *ctl, json_t *req, bool *denied)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char *line = json_dumps(req, JSON_COMPACT), reply[1 << 20];
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	json_t *parsed = NULL;
	ssize_t n = 0;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", ctl->socket);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		*denied = errno == EACCES || errno == EPERM;
		if (*denied)
			fprintf(stderr,
				"chunkctl: may not use %s: %s (it is for "
				"chunkd's user and root)\n",
				ctl->socket, strerror(errno));
		else
			fprintf(stderr,
				"chunkctl: no chunkd answers on %s: %s\n",
				ctl->socket, strerror(errno));
		goto out;
	}
	set_timeout(fd, ctl->timeout_s);
	if (write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0)
		goto out;
	while (got < sizeof(reply) - 1 &&
	       (n = read(fd, reply + got, sizeof(reply) - 1 - got)) > 0) {
		got += (size_t)n;
		if (memchr(reply, '\n', got))
			break;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		fprintf(stderr,
			"chunkctl: chunkd on %s did not answer within %u s\n",
			ctl->socket, ctl->timeout_s);
		goto out;
	}
	reply[got] = '\0';
	parsed = json_loads(reply, JSON_DISABLE_EOF_CHECK, NULL);
	if (!parsed)
		fprintf(stderr, "chunkctl: chunkd sent no valid reply\n");
out:
	if (fd >= 0)
		close(fd);
	free(line);
	return parsed;
}

static void print_status(json_t *r)
{
	json_t *pool = json_object_get(r, "pool"),
	       *chunks = json_object_get(r, "chunks");
	json_t *m;
	size_t i;

	printf("pool          %s\nbacking       %s\n", str(pool, "path"),
	       str(pool, "backing"));
	printf("size          %lld bytes, chunk area %lld, granularity %lld\n",
	       num(pool, "size"), num(pool, "area"), num(pool, "granularity"));
	printf("used          %lld bytes\nfree          %lld bytes\n",
	       num(pool, "used"), num(pool, "free"));
	printf("chunks        %lld open, %lld sealed\n", num(chunks, "open"),
	       num(chunks, "sealed"));
	printf("sessions      %lld\npersistence  ", num(r, "sessions"));
	json_array_foreach(json_object_get(r, "persistence"), i, m)
		printf(" %s", json_string_value(m));
	printf("\nauth refused  %lld\n", num(r, "auth_refused"));
	printf("refused       %lld connections over the limit, %lld without "
	       "HELLO in time, %lld abandoned handshakes\n",
	       num(json_object_get(r, "counters"), "connections_refused"),
	       num(json_object_get(r, "counters"), "hello_timeouts"),
	       num(json_object_get(r, "counters"), "handshakes_failed"));
}

static void print_lease_row(json_t *l)
{
	printf("%-20lld %-22s %6lld %7lld %12lld %12lld  %s\n", num(l, "id"),
	       str(l, "client"), num(l, "epoch"), num(l, "chunks"),
	       num(l, "bytes"), num(l, "expires_in_ms"), str(l, "state"));
}

static void print_leases(json_t *list)
{
	json_t *l;
	size_t i;

	printf("%-20s %-22s %6s %7s %12s %12s  %s\n", "ID", "CLIENT", "EPOCH",
	       "CHUNKS", "BYTES", "EXPIRES_MS", "STATE");
	json_array_foreach(list, i, l) print_lease_row(l);
}

static void print_chunk_row(json_t *c)
{
	printf("%-10lld %-7s %14lld %12lld %12lld %-20lld %s\n", num(c, "id"),
	       str(c, "state"), num(c, "offset"), num(c, "length"),
	       num(c, "sealed_length"), num(c, "session"), str(c, "crc32c"));
}

static void print_chunks(json_t *list)
{
	json_t *c;
	size_t i;

	printf("%-10s %-7s %14s %12s %12s %-20s %s\n", "ID", "STATE", "OFFSET",
	       "LENGTH", "SEALED", "SESSION", "CRC32C");
	json_array_foreach(list, i, c) print_chunk_row(c);
}

/* A replicated chunk's live copies, one line each. */
static void print_copies(json_t *copies)
{
	json_t *c;
	size_t i;

	if (!json_array_size(copies))
		return;
	printf("copies (%zu live):\n", json_array_size(copies));
	json_array_foreach(copies, i, c)
		printf("  %-20lld %s port %lld\n", num(c, "id"),
		       str(c, "address"), num(c, "port"));
}

/* The replication line of chunkctl cluster. */
static void print_replication(json_t *rep)
{
	json_t *n;
	const char *copies;

	if (!json_is_object(rep)) {
		printf("replication: unknown (etcd did not answer)\n");
		return;
	}
	printf("replicated chunks: %lld (", num(rep, "chunks"));
	json_object_foreach(json_object_get(rep, "by_copies"), copies, n)
		printf(" %s copies: %lld", copies,
		       (long long)json_integer_value(n));
	printf(" ); under-replicated: %lld; copies replaced through this "
	       "chunkd: %lld\n",
	       num(rep, "under_replicated"), num(rep, "copies_replaced_here"));
}

static void print_cluster(json_t *r)
{
	json_t *m;
	size_t i;

	printf("member %s; etcd at %s: %s\n", str(r, "self"),
	       str(r, "endpoints"), str(r, "etcd"));
	printf("%-16s %-16s %5s %6s %14s %14s %8s %8s  %s\n", "NAME", "ADDRESS",
	       "PORT", "NODE", "POOL", "FREE", "OPEN", "SEALED", "STATE");
	json_array_foreach(json_object_get(r, "members"), i, m) printf(
		"%-16s %-16s %5lld %6lld %14lld %14lld %8lld %8lld  %s\n",
		str(m, "name"), str(m, "address"), num(m, "port"),
		num(m, "node"), num(m, "pool_size"), num(m, "free"),
		num(m, "open"), num(m, "sealed"),
		json_is_true(json_object_get(m, "alive")) ? "alive" : "gone");
	print_replication(json_object_get(r, "replicated"));
}

/* Prints a successful reply for cmd; returns the exit status. */
static int print_reply(const char *cmd, json_t *r)
{
	if (!strcmp(cmd, "status"))
		print_status(r);
	else if (!strcmp(cmd, "cluster"))
		print_cluster(r);
	else if (!strcmp(cmd, "leases"))
		print_leases(json_object_get(r, "leases"));
	else if (!strncmp(cmd, "lease_", 6)) {
		print_leases(json_array());
		print_lease_row(json_object_get(r, "lease"));
	} else if (!strcmp(cmd, "chunks"))
		print_chunks(json_object_get(r, "chunks"));
	else if (!strcmp(cmd, "chunk_free"))
		printf("freed chunk %lld (it was %s, %lld bytes)\n",
		       num(json_object_get(r, "chunk"), "id"),
		       str(json_object_get(r, "chunk"), "state"),
		       num(json_object_get(r, "chunk"), "length"));
	else if (!strncmp(cmd, "chunk_", 6)) {
		print_chunks(json_array());
		print_chunk_row(json_object_get(r, "chunk"));
		print_copies(
			json_object_get(json_object_get(r, "chunk"), "copies"));
	}
	return EXIT_OK;
}

static int run(const struct ctl *ctl, const char *cmd, json_t *req)
{
	bool denied = false;
	json_t *reply = ask(ctl, req, &denied);
	int rc;

	json_decref(req);
	if (!reply)
		return denied ? EXIT_REFUSED : EXIT_UNREACHABLE;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		if (ctl->json)
			json_dumpf(reply, stdout, JSON_INDENT(2)),
				putchar('\n');
		fprintf(stderr, "chunkctl: %s\n", str(reply, "error"));
		rc = EXIT_REFUSED;
	} else if (ctl->json) {
		json_dumpf(reply, stdout, JSON_INDENT(2));
		putchar('\n');
		rc = EXIT_OK;
	} else {
		rc = print_reply(cmd, reply);
	}
	json_decref(reply);
	return rc;
}

/* Parses "ID" into a positive integer. */
static bool parse_id(const char *text, long long *id)
{
	char *end;

	errno = 0;
	*id = strtoll(text, &end, 10);
	return !errno && *text && !*end && *id > 0;
}

static bool parse_seconds(const char *text, unsigned *out)
{
	long long n;

	if (!parse_id(text, &n) || n > 86400)
		return false;
	*out = (unsigned)n;
	return true;
}

/* One admin request for repair and verify: the reply, or NULL. */
static json_t *ask_line(void *ctx, json_t *req)
{
	bool denied = false;
	json_t *reply = ask(ctx, req, &denied);

	json_decref(req);
	return reply;
}

/* chunkctl repair's arguments; false if they are wrong. */
static bool repair_args(int argc, char **argv, struct repair_opts *o)
{
	for (int i = 1; i < argc; i++) {
		bool has_value = i + 1 < argc;

		if (!strcmp(argv[i], "--dry-run"))
			o->dry_run = true;
		else if (!strcmp(argv[i], "--watch"))
			o->watch = true;
		else if (!strcmp(argv[i], "--grace-s") && has_value &&
			 parse_seconds(argv[i + 1], &o->grace_s))
			i++;
		else if (!strcmp(argv[i], "--auth-name") && has_value)
			o->auth_name = argv[++i];
		else if (!strcmp(argv[i], "--secret-file") && has_value)
			o->secret_file = argv[++i];
		else
			return false;
	}
	return true;
}

/* Builds the request for argv (the command and its arguments); returns
 * NULL if they are wrong (*why may then say how). */
static json_t *build_request(int argc, char **argv, const char **cmd,
			     const char **why)
{
	const char *verb = argv[0];
	long long id;

	if (!strcmp(verb, "status") || !strcmp(verb, "leases") ||
	    !strcmp(verb, "cluster")) {
		*cmd = verb;
		return argc == 1 ? json_pack("{s:s}", "cmd", verb) : NULL;
	}
	if (!strcmp(verb, "chunks")) {
		*cmd = "chunks";
		if (argc == 1)
			return json_pack("{s:s}", "cmd", "chunks");
		if (argc == 3 && !strcmp(argv[1], "--state") &&
		    (!strcmp(argv[2], "open") || !strcmp(argv[2], "sealed")))
			return json_pack("{s:s, s:s}", "cmd", "chunks", "state",
					 argv[2]);
		if (argc == 3 && !strcmp(argv[1], "--state"))
			*why = "--state is open or sealed";
		return NULL;
	}
	if ((!strcmp(verb, "lease") || !strcmp(verb, "chunk")) && argc == 3 &&
	    parse_id(argv[2], &id)) {
		static char name[32];
		bool lease = !strcmp(verb, "lease");

		if (!(lease ? !strcmp(argv[1], "show") ||
				      !strcmp(argv[1], "renew") ||
				      !strcmp(argv[1], "revoke")
			    : !strcmp(argv[1], "show") ||
				      !strcmp(argv[1], "free")))
			return NULL;
		snprintf(name, sizeof(name), "%s_%s", verb, argv[1]);
		*cmd = name;
		return json_pack("{s:s, s:I}", "cmd", name, "id",
				 (json_int_t)id);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"timeout", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct ctl ctl = {.socket = DEFAULT_SOCKET,
			  .timeout_s = DEFAULT_TIMEOUT};
	const char *cmd = NULL, *help, *why = NULL;
	json_t *req;
	int opt;

	while ((opt = getopt_long(argc, argv, "+s:jt:hV", options, NULL)) !=
	       -1) {
		switch (opt) {
		case 's':
			ctl.socket = optarg;
			break;
		case 't':
			if (!parse_seconds(optarg, &ctl.timeout_s))
				return usage_error("--timeout needs seconds, "
						   "1 to 86400, not",
						   optarg);
			break;
		case 'j':
			ctl.json = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EXIT_OK;
		case 'V':
			printf("chunkctl %s\n", chunk_version());
			return EXIT_OK;
		default:
			return usage_error("unknown option", NULL);
		}
	}
	if (optind == argc)
		return usage_error("no command given", NULL);
	help = command_help(argv[optind]);
	if (!help)
		return usage_error("unknown command", argv[optind]);
	for (int i = optind + 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(help, stdout);
			return EXIT_OK;
		}
	}
	if (!strcmp(argv[optind], "repair")) {
		struct repair_opts ro = {.ask = ask_line, .ctx = &ctl};

		if (!repair_args(argc - optind, argv + optind, &ro))
			return usage_error("wrong arguments for repair; see "
					   "chunkctl repair --help",
					   NULL);
		return repair_run(&ro);
	}
	if (!strcmp(argv[optind], "verify")) {
		struct scrub_watch_opts so = {.ask = ask_line,
					      .ctx = &ctl,
					      .json = ctl.json,
					      .rate_mb_s = -1};

		if (!scrub_watch_args(argc - optind - 1, argv + optind + 1,
				      &so))
			return usage_error("wrong arguments for verify; see "
					   "chunkctl verify --help",
					   NULL);
		return scrub_watch_run(&so);
	}
	req = build_request(argc - optind, argv + optind, &cmd, &why);
	if (!req) {
		fprintf(stderr,
			"chunkctl: wrong arguments for %s%s%s; see chunkctl "
			"%s --help\n",
			argv[optind], why ? ": " : "", why ? why : "",
			argv[optind]);
		return EXIT_USAGE;
	}
	return run(&ctl, cmd, req);
}
