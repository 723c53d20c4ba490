#include "etcd_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/list.h"

#define MAX_ENDPOINTS	   16
#define RETRY_PAUSE_MS	   100 /* between rounds of refusing endpoints */
#define CONNECT_TIMEOUT_MS 1000
#define MAX_CONNECTIONS	   8

struct etcd_http {
	struct event_base *base;
	CURLM *multi;
	struct event *timer; /* libcurl's timeout */
	char *endpoints_text;
	char *endpoints[MAX_ENDPOINTS];
	unsigned endpoint_count;
	unsigned preferred; /* the endpoint that answered last */
	unsigned timeout_ms;
	struct list_link pending; /* the requests, for free */
	struct etcd_http_stats stats;
};

struct etcd_http_request {
	struct etcd_http *h;
	CURL *easy;
	struct curl_slist *headers;
	char *path, *body;
	etcd_http_done_fn *done;
	etcd_http_line_fn *line; /* a stream's; NULL for a plain POST */
	void *arg;
	char *buf; /* the answer so far, NUL-terminated */
	size_t len, cap;
	unsigned endpoint; /* of this attempt */
	unsigned attempts;
	uint64_t start_us;
	uint64_t deadline_us;
	struct event *retry; /* the pause before another round */
	char error[CURL_ERROR_SIZE];
	struct list_link link; /* on h->pending */
};

static bool curl_ready;

static int split_endpoints(struct etcd_http *h, const char *text, char *err,
			   size_t err_len)
{
	char *save = NULL, *tok;

	h->endpoints_text = strdup(text);
	char *copy = strdup(text);

	if (!h->endpoints_text || !copy) {
		free(copy);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	for (tok = strtok_r(copy, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		if (strncmp(tok, "http://", 7) != 0 || !tok[7]) {
			snprintf(err, err_len,
				 "etcd endpoint '%s' is not http://HOST:PORT",
				 tok);
			break;
		}
		if (h->endpoint_count == MAX_ENDPOINTS) {
			snprintf(err, err_len, "more than %d etcd endpoints",
				 MAX_ENDPOINTS);
			break;
		}
		h->endpoints[h->endpoint_count] = strdup(tok);
		if (!h->endpoints[h->endpoint_count++]) {
			snprintf(err, err_len, "out of memory");
			break;
		}
	}
	free(copy);
	if (tok)
		return -EINVAL;
	if (h->endpoint_count == 0) {
		snprintf(err, err_len, "no etcd endpoint given");
		return -EINVAL;
	}
	return 0;
}

/* ---- libcurl's sockets and timer as libevent events ---- */

static void check_finished(struct etcd_http *h);

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
	struct etcd_http *h = arg;
	int flags = 0, running;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	check_finished(h);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct etcd_http *h = arg;
	int running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_finished(h);
}

/* libcurl says which events a socket needs; one libevent event each. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp,
		     void *socketp)
{
	struct etcd_http *h = userp;
	struct event *ev = socketp;
	short flags = EV_PERSIST;

	(void)easy;
	if (ev) {
		event_free(ev);
		curl_multi_assign(h->multi, s, NULL);
	}
	if (what == CURL_POLL_REMOVE)
		return 0;
	if (what & CURL_POLL_IN)
		flags |= EV_READ;
	if (what & CURL_POLL_OUT)
		flags |= EV_WRITE;
	ev = event_new(h->base, s, flags, on_socket_event, h);
	if (!ev || event_add(ev, NULL)) {
		if (ev)
			event_free(ev);
		return -1;
	}
	curl_multi_assign(h->multi, s, ev);
	return 0;
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp)
{
	struct etcd_http *h = userp;
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

	(void)multi;
	if (timeout_ms < 0)
		return evtimer_del(h->timer);
	return evtimer_add(h->timer, &tv);
}

int etcd_http_new(struct event_base *base, const char *endpoints,
		  unsigned timeout_ms, struct etcd_http **out, char *err,
		  size_t err_len)
{
	struct etcd_http *h = calloc(1, sizeof(*h));
	int rc;

	if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) == 0)
		curl_ready = true;
	if (!h || !curl_ready) {
		free(h);
		snprintf(err, err_len, "cannot initialize libcurl");
		return -ENOMEM;
	}
	list_init(&h->pending);
	h->base = base;
	h->timeout_ms = timeout_ms;
	rc = split_endpoints(h, endpoints, err, err_len);
	if (rc) {
		etcd_http_free(&h);
		return rc;
	}
	h->multi = curl_multi_init();
	h->timer = evtimer_new(base, on_timer, h);
	if (!h->multi || !h->timer) {
		etcd_http_free(&h);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	/* A reclaim of many chunks starts as many transactions at once:
	 * they queue for a few kept connections instead of each taking a
	 * descriptor from chunkd's budget. */
	curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
			  (long)MAX_CONNECTIONS);
	*out = h;
	return 0;
}

/* ---- requests ---- */

static void request_free(struct etcd_http_request *q)
{
	struct etcd_http *h = q->h;

	list_remove(&q->link);
	if (q->easy) {
		curl_multi_remove_handle(h->multi, q->easy);
		curl_easy_cleanup(q->easy);
	}
	if (q->retry)
		event_free(q->retry);
	curl_slist_free_all(q->headers);
	free(q->path);
	free(q->body);
	free(q->buf);
	free(q);
}

void etcd_http_free(struct etcd_http **hp)
{
	struct etcd_http *h = *hp;

	if (!h)
		return;
	while (!list_empty(&h->pending))
		request_free(LIST_ITEM(h->pending.next,
				       struct etcd_http_request, link));
	if (h->multi)
		curl_multi_cleanup(h->multi);
	if (h->timer)
		event_free(h->timer);
	for (unsigned i = 0; i < h->endpoint_count; i++)
		free(h->endpoints[i]);
	free(h->endpoints_text);
	free(h);
	*hp = NULL;
}

void etcd_http_cancel(struct etcd_http_request **req)
{
	if (*req)
		request_free(*req);
	*req = NULL;
}

void etcd_http_stats(const struct etcd_http *h, struct etcd_http_stats *out)
{
	*out = h->stats;
}

const char *etcd_http_endpoints(const struct etcd_http *h)
{
	return h->endpoints_text;
}

static int grow(struct etcd_http_request *q, size_t more)
{
	size_t want = q->len + more + 1;
	char *p;

	if (want <= q->cap)
		return 0;
	if (want < 2 * q->cap)
		want = 2 * q->cap;
	p = realloc(q->buf, want);
	if (!p)
		return -1;
	q->buf = p;
	q->cap = want;
	return 0;
}

/* Hands a stream's complete lines out and keeps the rest. */
static void pass_lines(struct etcd_http_request *q)
{
	char *nl;

	while ((nl = memchr(q->buf, '\n', q->len))) {
		size_t n = (size_t)(nl - q->buf);

		*nl = '\0';
		if (n)
			q->line(q->arg, q->buf, n);
		memmove(q->buf, nl + 1, q->len - n - 1);
		q->len -= n + 1;
		q->buf[q->len] = '\0';
	}
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
	struct etcd_http_request *q = userp;
	size_t bytes = size * n;

	if (grow(q, bytes))
		return 0; /* libcurl fails the transfer */
	memcpy(q->buf + q->len, data, bytes);
	q->len += bytes;
	q->buf[q->len] = '\0';
	if (q->line)
		pass_lines(q);
	return bytes;
}

static uint64_t remaining_ms(const struct etcd_http_request *q)
{
	uint64_t now = clock_mono_us();

	return q->deadline_us > now ? (q->deadline_us - now) / 1000 + 1 : 0;
}

/* Starts an attempt at q->endpoint. */
static int attempt(struct etcd_http_request *q)
{
	struct etcd_http *h = q->h;
	char url[512];
	long left = (long)remaining_ms(q);

	snprintf(url, sizeof(url), "%s%s", h->endpoints[q->endpoint], q->path);
	q->len = 0;
	if (q->buf)
		q->buf[0] = '\0';
	q->error[0] = '\0';
	q->attempts++;
	curl_easy_setopt(q->easy, CURLOPT_URL, url);
	curl_easy_setopt(q->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 left < CONNECT_TIMEOUT_MS ? left : CONNECT_TIMEOUT_MS);
	if (!q->line)
		curl_easy_setopt(q->easy, CURLOPT_TIMEOUT_MS, left);
	return curl_multi_add_handle(h->multi, q->easy) == CURLM_OK ? 0 : -1;
}

static int setup_easy(struct etcd_http_request *q)
{
	q->easy = curl_easy_init();
	q->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (q->headers)
		q->headers = curl_slist_append(q->headers,
					       "Grpc-Metadata-hasleader: true");
	if (!q->easy || !q->headers)
		return -1;
	curl_easy_setopt(q->easy, CURLOPT_PRIVATE, q);
	curl_easy_setopt(q->easy, CURLOPT_HTTPHEADER, q->headers);
	curl_easy_setopt(q->easy, CURLOPT_POSTFIELDS, q->body);
	curl_easy_setopt(q->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(q->body));
	curl_easy_setopt(q->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(q->easy, CURLOPT_WRITEDATA, q);
	curl_easy_setopt(q->easy, CURLOPT_ERRORBUFFER, q->error);
	curl_easy_setopt(q->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(q->easy, CURLOPT_TCP_NODELAY, 1L);
	return 0;
}

static struct etcd_http_request *start(struct etcd_http *h, const char *path,
				       const char *body,
				       etcd_http_line_fn *line,
				       etcd_http_done_fn *done, void *arg)
{
	struct etcd_http_request *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->h = h;
	list_push(&h->pending, &q->link);
	q->path = strdup(path);
	q->body = strdup(body);
	q->line = line;
	q->done = done;
	q->arg = arg;
	q->endpoint = h->preferred;
	q->start_us = clock_mono_us();
	q->deadline_us = q->start_us + (uint64_t)h->timeout_ms * 1000;
	if (!q->path || !q->body || grow(q, 256) || setup_easy(q) ||
	    attempt(q)) {
		request_free(q);
		return NULL;
	}
	return q;
}

struct etcd_http_request *etcd_http_post(struct etcd_http *h, const char *path,
					 const char *body,
					 etcd_http_done_fn *done, void *arg)
{
	return start(h, path, body, NULL, done, arg);
}

struct etcd_http_request *etcd_http_stream(struct etcd_http *h,
					   const char *path, const char *body,
					   etcd_http_line_fn *line,
					   etcd_http_done_fn *done, void *arg)
{
	return start(h, path, body, line, done, arg);
}

/* ---- finishing, or trying the next endpoint ---- */

static void count(struct etcd_http_request *q, bool ok)
{
	struct etcd_http_stats *st = &q->h->stats;

	if (q->line)
		return;
	st->requests++;
	if (!ok)
		st->failures++;
	histogram_observe(&st->latency, clock_mono_us() - q->start_us);
}

static void finish(struct etcd_http_request *q, int status, long code)
{
	struct etcd_http_answer a = {
		.status = status,
		.code = code,
		.body = q->buf ? q->buf : "",
		.len = q->len,
		.endpoint = q->h->endpoints[q->endpoint],
		.reason = q->error[0] ? q->error : NULL,
	};
	bool ok = status == 0 && code / 100 == 2;

	if (ok)
		q->h->preferred = q->endpoint;
	count(q, ok);
	q->done(q->arg, &a);
	request_free(q);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct etcd_http_request *q = arg;

	(void)fd;
	(void)what;
	if (attempt(q))
		finish(q, -ENOMEM, 0);
}

/* The attempt was not applied (no connection, or no leader): the next
 * endpoint, after a pause once every endpoint was tried, until the
 * deadline. Returns false when the deadline has passed. */
static bool try_next(struct etcd_http_request *q)
{
	struct etcd_http *h = q->h;
	struct timeval pause = {0, 0};

	if (remaining_ms(q) <= RETRY_PAUSE_MS)
		return false;
	curl_multi_remove_handle(h->multi, q->easy);
	q->endpoint = (q->endpoint + 1) % h->endpoint_count;
	if (q->attempts % h->endpoint_count == 0)
		pause.tv_usec = RETRY_PAUSE_MS * 1000;
	if (!q->retry)
		q->retry = evtimer_new(h->base, on_retry, q);
	return q->retry && evtimer_add(q->retry, &pause) == 0;
}

static bool never_sent(CURL *easy)
{
	long sent = 0;

	curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &sent);
	return sent == 0;
}

static void transfer_done(struct etcd_http_request *q, CURLcode result)
{
	long code = 0;
	bool refused;

	curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &code);
	refused = (result != CURLE_OK && never_sent(q->easy)) ||
		  (result == CURLE_OK && code == 503);
	if (refused && try_next(q))
		return;
	if (refused)
		finish(q, -ECONNREFUSED, code);
	else if (result == CURLE_OPERATION_TIMEDOUT)
		finish(q, -ETIMEDOUT, 0);
	else if (result != CURLE_OK)
		finish(q, -EIO, 0);
	else
		finish(q, 0, code);
}

static void check_finished(struct etcd_http *h)
{
	struct etcd_http_request *q;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
				  (char **)&q);
		transfer_done(q, msg->data.result);
	}
}
