#include "answer_thief.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PAIRS 64
#define TXN_START "POST /v3/kv/txn "

/* One relayed connection: the asker's side and etcd's. */
struct pair {
	int asker, etcd;
	bool steal_answer; /* a transaction went up while stealing */
};

struct answer_thief {
	struct sockaddr_in upstream;
	int listener;
	int wake[2]; /* a byte here ends the thread */
	pthread_t thread;
	atomic_bool stealing;
	atomic_uint stolen;
	struct pair pairs[MAX_PAIRS];
	unsigned count;
};

static void close_pair(struct answer_thief *t, unsigned i)
{
	close(t->pairs[i].asker);
	close(t->pairs[i].etcd);
	t->pairs[i] = t->pairs[--t->count];
}

static void accept_one(struct answer_thief *t)
{
	int asker = accept(t->listener, NULL, NULL), etcd;

	if (asker < 0)
		return;
	etcd = socket(AF_INET, SOCK_STREAM, 0);
	if (t->count == MAX_PAIRS || etcd < 0 ||
	    connect(etcd, (struct sockaddr *)&t->upstream,
		    sizeof(t->upstream))) {
		close(asker); /* the asker sees a refused member */
		if (etcd >= 0)
			close(etcd);
		return;
	}
	t->pairs[t->count++] = (struct pair){asker, etcd, false};
}

static bool write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Moves what the asker sent up; false when the pair is over. */
static bool relay_request(struct answer_thief *t, struct pair *p)
{
	char buf[65536];
	ssize_t n = read(p->asker, buf, sizeof(buf));

	if (n <= 0)
		return false;
	/* libcurl sends one request at a time per connection, its request
	 * line at the start of a write. */
	if (atomic_load(&t->stealing) && (size_t)n >= strlen(TXN_START) &&
	    !memcmp(buf, TXN_START, strlen(TXN_START)))
		p->steal_answer = true;
	return write_all(p->etcd, buf, (size_t)n);
}

/* Moves etcd's answer down, or drops it with the connection. */
static bool relay_answer(struct answer_thief *t, struct pair *p)
{
	char buf[65536];
	ssize_t n = read(p->etcd, buf, sizeof(buf));

	if (n <= 0)
		return false;
	if (p->steal_answer) {
		atomic_fetch_add(&t->stolen, 1);
		return false;
	}
	return write_all(p->asker, buf, (size_t)n);
}

static void *serve(void *arg)
{
	struct answer_thief *t = arg;
	struct pollfd fds[2 + 2 * MAX_PAIRS];

	for (;;) {
		unsigned n = t->count;

		fds[0] = (struct pollfd){.fd = t->wake[0], .events = POLLIN};
		fds[1] = (struct pollfd){.fd = t->listener, .events = POLLIN};
		for (unsigned i = 0; i < n; i++) {
			fds[2 + 2 * i] = (struct pollfd){
				.fd = t->pairs[i].asker, .events = POLLIN};
			fds[3 + 2 * i] = (struct pollfd){.fd = t->pairs[i].etcd,
							 .events = POLLIN};
		}
		if (poll(fds, 2 + 2 * n, -1) < 0 && errno != EINTR)
			return NULL;
		if (fds[0].revents)
			return NULL;
		/* Backwards, so closing pair i moves only a pair already seen.
		 */
		for (unsigned i = n; i-- > 0;) {
			bool up = fds[2 + 2 * i].revents,
			     down = fds[3 + 2 * i].revents;

			if ((up && !relay_request(t, &t->pairs[i])) ||
			    (down && !relay_answer(t, &t->pairs[i])))
				close_pair(t, i);
		}
		if (fds[1].revents)
			accept_one(t);
	}
}

static void parse_upstream(const char *upstream, struct sockaddr_in *sa)
{
	char host[64];
	unsigned port;

	cr_assert_eq(sscanf(upstream, "http://%63[^:]:%u", host, &port), 2,
		     "not an etcd endpoint: %s", upstream);
	*sa = (struct sockaddr_in){.sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port)};
	cr_assert_eq(inet_pton(AF_INET, host, &sa->sin_addr), 1,
		     "not an IPv4 address: %s", host);
}

struct answer_thief *answer_thief_start(const char *upstream, char *endpoint,
					size_t len)
{
	struct answer_thief *t = calloc(1, sizeof(*t));
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);

	cr_assert(t);
	parse_upstream(upstream, &t->upstream);
	t->listener = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(t->listener >= 0);
	cr_assert_eq(bind(t->listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(t->listener, 16), 0);
	cr_assert_eq(getsockname(t->listener, (struct sockaddr *)&sa, &sl), 0);
	cr_assert_eq(pipe(t->wake), 0);
	atomic_init(&t->stealing, false);
	atomic_init(&t->stolen, 0);
	cr_assert_eq(pthread_create(&t->thread, NULL, serve, t), 0);
	snprintf(endpoint, len, "http://127.0.0.1:%u",
		 (unsigned)ntohs(sa.sin_port));
	return t;
}

void answer_thief_steal(struct answer_thief *t, bool on)
{
	atomic_store(&t->stealing, on);
}

unsigned answer_thief_stolen(struct answer_thief *t)
{
	return atomic_load(&t->stolen);
}

void answer_thief_stop(struct answer_thief **tp)
{
	struct answer_thief *t = *tp;

	if (!t)
		return;
	if (write(t->wake[1], "x", 1) != 1)
		cr_log_error("answer_thief: cannot wake its thread");
	pthread_join(t->thread, NULL);
	while (t->count)
		close_pair(t, t->count - 1);
	close(t->listener);
	close(t->wake[0]);
	close(t->wake[1]);
	free(t);
	*tp = NULL;
}
