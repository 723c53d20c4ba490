#include "crash_recorder.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_LINE 64u

static struct crash_recorder *from_ctx(void *ctx)
{
	return ctx;
}

static int add_pending(struct crash_recorder *r, size_t offset, size_t len)
{
	struct pending_word *w;

	if (r->pending_count == r->pending_cap) {
		size_t cap = r->pending_cap ? r->pending_cap * 2 : 64;
		void *grown = realloc(r->pending, cap * sizeof(*r->pending));

		if (!grown)
			abort();
		r->pending = grown;
		r->pending_cap = cap;
	}
	w = &r->pending[r->pending_count++];
	w->offset = offset;
	w->len = (uint8_t)len;
	w->flushed = false;
	memcpy(w->bytes, r->live + offset, len);
	return 0;
}

/* Splits a store into the aligned words it touched. */
static void on_stored(void *ctx, const void *dst, size_t len)
{
	struct crash_recorder *r = from_ctx(ctx);
	size_t start = (size_t)((const uint8_t *)dst - r->live);
	size_t end = start + len;

	while (start < end) {
		size_t word_end = (start / 8 + 1) * 8;
		size_t piece_end = word_end < end ? word_end : end;

		add_pending(r, start, piece_end - start);
		start = piece_end;
	}
}

static void on_flushed(void *ctx, const void *addr, size_t len)
{
	struct crash_recorder *r = from_ctx(ctx);
	size_t start = (size_t)((const uint8_t *)addr - r->live);
	size_t first = start / CACHE_LINE * CACHE_LINE;
	size_t end = start + len;

	for (size_t i = 0; i < r->pending_count; i++) {
		struct pending_word *w = &r->pending[i];

		if (w->offset >= first && w->offset < end)
			w->flushed = true;
	}
}

static uint64_t next_random(struct crash_recorder *r)
{
	/* xorshift64*: small, seedable, good enough to pick subsets */
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * 0x2545f4914f6cdd1dull;
}

static bool chosen(const uint8_t *pick, size_t i)
{
	return pick[i / 8] >> (i % 8) & 1;
}

static void hand_out(struct crash_recorder *r, const uint8_t *pick)
{
	memcpy(r->scratch, r->durable, r->len);
	for (size_t i = 0; i < r->pending_count; i++) {
		const struct pending_word *w = &r->pending[i];

		if (chosen(pick, i))
			memcpy(r->scratch + w->offset, w->bytes, w->len);
	}
	r->images++;
	r->on_image(r->scratch, r->len, r->arg);
}

static void hand_out_subsets(struct crash_recorder *r)
{
	size_t n = r->pending_count;
	uint8_t *pick = calloc((n + 7) / 8 + 2, 1);

	if (!pick)
		abort();
	if (n <= r->max_exhaustive) {
		/* n <= 10 < 16: the mask's two low bytes are the pick. */
		for (unsigned mask = 0; mask < (1u << n); mask++) {
			pick[0] = (uint8_t)mask;
			pick[1] = (uint8_t)(mask >> 8);
			hand_out(r, pick);
		}
	} else {
		for (unsigned k = 0; k < r->random_subsets; k++) {
			for (size_t i = 0; i < (n + 7) / 8; i++)
				pick[i] = (uint8_t)next_random(r);
			if (k < 2) /* nothing, and everything */
				memset(pick, k ? 0xff : 0, (n + 7) / 8);
			hand_out(r, pick);
		}
	}
	free(pick);
}

/* The fence: first the images a cut now could leave, then what it makes
 * durable. Unflushed words stay pending. */
static void on_drained(void *ctx)
{
	struct crash_recorder *r = from_ctx(ctx);
	size_t kept = 0;

	r->fences++;
	if (r->enabled)
		hand_out_subsets(r);
	for (size_t i = 0; i < r->pending_count; i++) {
		struct pending_word *w = &r->pending[i];

		if (w->flushed)
			memcpy(r->durable + w->offset, w->bytes, w->len);
		else
			r->pending[kept++] = *w;
	}
	r->pending_count = kept;
}

int crash_recorder_init(struct crash_recorder *r, const uint8_t *live,
			size_t len, crash_image_fn *on_image, void *arg,
			uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	r->hooks = (struct persist_hooks){
		.stored = on_stored,
		.flushed = on_flushed,
		.drained = on_drained,
		.ctx = r,
	};
	r->live = live;
	r->len = len;
	r->durable = malloc(len);
	r->scratch = malloc(len);
	if (!r->durable || !r->scratch)
		return -1;
	memcpy(r->durable, live, len);
	r->max_exhaustive = 10;
	r->random_subsets = 1000;
	r->rng = seed * 0x9e3779b97f4a7c15ull + 1;
	r->on_image = on_image;
	r->arg = arg;
	r->enabled = true;
	return 0;
}

void crash_recorder_fini(struct crash_recorder *r)
{
	free(r->durable);
	free(r->scratch);
	free(r->pending);
	r->durable = r->scratch = NULL;
	r->pending = NULL;
}

struct persister crash_recorder_persister(struct crash_recorder *r)
{
	return (struct persister){.mode = PERSIST_NONE, .hooks = &r->hooks};
}
