/*
 * core/util.c — clock, hashing, names, buffers and the arena.
 *
 * Memory: strata treats out-of-memory as fatal (as Redis does); the
 * allocation wrappers print one line and abort, so callers never carry an
 * OOM path that no test could exercise.
 *
 * Clock: strata_now_us() is the wall clock unless a test installs its own, so
 * retention boundaries can be moved without sleeping.  The pointer pair is
 * swapped only while no other thread reads it (start-up and tests).
 *
 * Owners: claims and intents name the process holding them as
 * "<what>@<host>:<pid>", so a process of the same host can tell that the
 * holder died (kill -9, power cut) instead of waiting for the claim to expire.
 */
#include "core.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* ---- allocation --------------------------------------------------------- */

static void oom(size_t n)
{
	char msg[96];
	int len = snprintf(msg, sizeof(msg), "strata: out of memory allocating %zu bytes\n", n);
	ssize_t w = write(2, msg, (size_t)len);
	(void)w;
	abort();
}

void *strata_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *strata_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *strata_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *strata_strdup(const char *s)
{
	return strata_memdup(s, strlen(s) + 1);
}

void *strata_memdup(const void *p, size_t n)
{
	void *q = strata_malloc(n);
	if (n)
		memcpy(q, p, n);
	return q;
}

/* ---- clock -------------------------------------------------------------- */

static strata_clock_fn clock_fn;
static void *clock_arg;

int64_t strata_now_us(void)
{
	if (clock_fn)
		return clock_fn(clock_arg);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool strata_clock_is_set(void)
{
	return clock_fn != NULL;
}

void strata_clock_set(strata_clock_fn fn, void *arg)
{
	clock_fn = fn;
	clock_arg = arg;
}

int64_t strata_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- hashing ------------------------------------------------------------ */

uint64_t strata_hash64(const void *p, size_t n)
{
	return XXH3_64bits(p, n);
}

/* ---- names and paths ---------------------------------------------------- */

int strata_name_check(const char *name, const char *what, strata_err *err)
{
	size_t n = strlen(name);
	if (n == 0)
		return strata_err_set(err, STRATA_EINVAL, "%s must not be empty", what);
	if (n > STRATA_NAME_MAX)
		return strata_err_set(err, STRATA_EINVAL,
				      "%s \"%.80s\" is longer than %d characters", what,
				      name, STRATA_NAME_MAX);
	if (!(name[0] >= 'a' && name[0] <= 'z'))
		return strata_err_set(err, STRATA_EINVAL,
				      "%s \"%.80s\" must start with a lowercase letter "
				      "(allowed: [a-z][a-z0-9_]*)",
				      what, name);
	for (size_t i = 1; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return strata_err_set(err, STRATA_EINVAL,
					      "%s \"%.80s\" has a character outside "
					      "[a-z0-9_] at position %zu",
					      what, name, i + 1);
	}
	return 0;
}

int strata_path_join(char *out, size_t n, const char *a, const char *b)
{
	size_t la = strlen(a);
	while (la > 1 && a[la - 1] == '/')
		la--;
	int w = snprintf(out, n, "%.*s/%s", (int)la, a, b);
	if (w < 0 || (size_t)w >= n)
		return STRATA_ELIMIT;
	return 0;
}

/* ---- buffers ------------------------------------------------------------ */

void strata_buf_reserve(strata_buf *b, size_t extra)
{
	if (b->cap - b->len >= extra)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap - b->len < extra)
		cap *= 2;
	b->data = strata_realloc(b->data, cap);
	b->cap = cap;
}

void strata_buf_append(strata_buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	strata_buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void strata_buf_putc(strata_buf *b, uint8_t c)
{
	strata_buf_reserve(b, 1);
	b->data[b->len++] = c;
}

void strata_buf_printf(strata_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0)
		return;
	strata_buf_reserve(b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void strata_buf_reset(strata_buf *b)
{
	b->len = 0;
}

void strata_buf_free(strata_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---- arena -------------------------------------------------------------- */

#define ARENA_CHUNK_BYTES (64 * 1024)

typedef struct arena_chunk {
	struct arena_chunk *next;
	size_t cap;
	size_t used;
	_Alignas(16) uint8_t data[];
} arena_chunk;

struct strata_arena {
	arena_chunk *head;
	arena_chunk *spare; /* standard chunks kept by strata_arena_rewind */
	size_t bytes;
};

strata_arena *strata_arena_new(void)
{
	return strata_calloc(1, sizeof(strata_arena));
}

void *strata_arena_alloc(strata_arena *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (!a->head || a->head->cap - a->head->used < n) {
		size_t cap = n > ARENA_CHUNK_BYTES / 4 ? n : ARENA_CHUNK_BYTES;
		arena_chunk *c;
		if (cap == ARENA_CHUNK_BYTES && a->spare) {
			c = a->spare;
			a->spare = c->next;
		} else {
			c = strata_malloc(sizeof(*c) + cap);
		}
		c->cap = cap;
		c->used = 0;
		if (a->head && n > ARENA_CHUNK_BYTES / 4) {
			/* big block: keep the current chunk on top for small ones */
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
		a->bytes += cap;
		c->used = n;
		return c->data;
	}
	void *p = a->head->data + a->head->used;
	a->head->used += n;
	return p;
}

void *strata_arena_dup(strata_arena *a, const void *p, size_t n)
{
	void *q = strata_arena_alloc(a, n ? n : 1);
	/* p is NULL for an empty strata_buf that never allocated: callers
	 * copying such a buffer with a minimum size of 1 (the Parquet writer's
	 * page statistics of an empty string) get zeroes, not a crash */
	if (n && p)
		memcpy(q, p, n);
	else if (n)
		memset(q, 0, n);
	return q;
}

char *strata_arena_strdup(strata_arena *a, const char *s)
{
	return strata_arena_dup(a, s, strlen(s) + 1);
}

size_t strata_arena_bytes(const strata_arena *a)
{
	return a->bytes;
}

void strata_arena_reset(strata_arena *a)
{
	arena_chunk *c = a->head;
	while (c) {
		arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
	a->bytes = 0;
	while (a->spare) {
		arena_chunk *next = a->spare->next;
		free(a->spare);
		a->spare = next;
	}
}

void strata_arena_rewind(strata_arena *a)
{
	arena_chunk *c = a->head;
	while (c) {
		arena_chunk *next = c->next;
		if (c->cap == ARENA_CHUNK_BYTES) {
			c->next = a->spare;
			a->spare = c;
		} else {
			free(c);
		}
		c = next;
	}
	a->head = NULL;
	a->bytes = 0;
}

void strata_arena_free(strata_arena *a)
{
	if (!a)
		return;
	strata_arena_reset(a);
	free(a);
}

/* ---- process owners ------------------------------------------------------ */

void strata_owner_string(const char *what, char *out, size_t n)
{
	char host[64] = "localhost";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(out, n, "%s@%s:%ld", what, host, (long)getpid());
}

bool strata_owner_is_dead(const char *owner)
{
	const char *at = strchr(owner, '@');
	const char *colon = strrchr(owner, ':');
	if (!at || !colon || colon < at)
		return false;
	char host[64] = "localhost";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	size_t hl = (size_t)(colon - at - 1);
	if (hl != strlen(host) || strncmp(at + 1, host, hl) != 0)
		return false; /* another host: only its claim expiry tells */
	long pid = strtol(colon + 1, NULL, 10);
	if (pid <= 0)
		return false;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}
