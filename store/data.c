/*
 * store/data.c — the S3 data store: data files as objects, behind core's
 * data-store seam (core/core.h, "Data stores"; contract of the registration
 * in store/store.h).
 *
 * A data path "s3://BUCKET/PREFIX/table/part/b0000/NAME" is the object
 * PREFIX/table/part/b0000/NAME of BUCKET.  One client per process
 * (strata_s3, thread-safe), opened at the first use the AWS way: what
 * strata_store_s3_configure() set (stratad's [daemon] s3.* keys), then the
 * environment (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ...), then
 * ~/.aws/config (see strata_s3_open()); where each setting came from is
 * logged once, at info, keys never.
 *
 *   write   strata_s3_writer: held in memory up to a part (8 MiB), then one
 *           If-None-Match PUT; larger objects stream as a multipart upload,
 *           part by part, aborted on failure.
 *   read    ranged GETs.  Two things keep their number down:
 *           - the tail cache (process-wide, bounded LRU, TAIL_CACHE_BYTES):
 *             per object its size and its last bytes, fetched once — a
 *             Parquet footer and the page index before it, or a whole small
 *             file; a cold open is one suffix-range GET (its Content-Range
 *             gives the size: no HEAD), a warm open costs no request;
 *           - a read-ahead window per open reader (WINDOW_BYTES): a small
 *             read fetches a window, so sequential small reads (an Avro
 *             block header, then its body) cost one GET per window, and a
 *             large read that starts in it GETs only what follows it;
 *           - a job's inputs are prefetched (s3d_prefetch): their tails,
 *             small files whole, by up to 8 requests at once.
 *   stat    HEAD.   remove  DELETE (and the cache entry).
 *   list    ListObjectsV2 under "DIR/", a page at a time.
 *
 * Invariants:
 *   1. an object's bytes never change under its name (names are never
 *      reused, every PUT is If-None-Match: *), so cached sizes and tails
 *      stay true until the object is removed, when they are dropped;
 *   2. memory is bounded: a writer holds one part, a reader one window and
 *      the cache at most TAIL_CACHE_BYTES over all objects; the cache takes
 *      tails (footers, page indexes, small files), not the pages a scan
 *      reads one after another near a file's end;
 *   3. a short read (the object shorter than its recorded size) is
 *      STRATA_ECORRUPT naming the object, never a silent zero fill;
 *   4. no byte is fetched twice by one reader while its window holds it:
 *      a read that starts in the window takes that part from there (a
 *      Parquet page's header read fetches a window, its body read follows
 *      on: fetching the body whole again cost a quarter more bytes than
 *      the file's in a merge of 1 MiB pages).
 *
 * Threads: any; the cache has one mutex, held for lookups and copies only,
 * never across a request.
 */
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define S3_SCHEME "s3://"
#define TAIL_MIN_BYTES (64u << 10)  /* a cold tail fetch takes at least this */
#define TAIL_MAX_BYTES (1u << 20)   /* reads this close to the end are tail reads */
#define TAIL_CACHE_BYTES (32u << 20)
#define TAIL_CACHE_ENTRIES 4096
#define WINDOW_BYTES (256u << 10)

/* ---- the client ------------------------------------------------------------ */

static pthread_mutex_t client_mu = PTHREAD_MUTEX_INITIALIZER;
static strata_s3 *client;
static strata_s3_config client_cfg; /* its strings owned here */
static bool has_client_cfg;

static char *dup_or_null(const char *s)
{
	return s ? strata_strdup(s) : NULL;
}

static void cfg_free(strata_s3_config *c)
{
	free((char *)c->endpoint);
	free((char *)c->region);
	free((char *)c->access_key);
	free((char *)c->secret_key);
	free((char *)c->session_token);
	free((char *)c->profile);
	free((char *)c->credentials_file);
	free((char *)c->config_file);
	free((char *)c->origin);
	memset(c, 0, sizeof(*c));
}

void strata_store_s3_configure(const strata_s3_config *cfg)
{
	pthread_mutex_lock(&client_mu);
	cfg_free(&client_cfg);
	has_client_cfg = cfg != NULL;
	if (cfg) {
		client_cfg = *cfg;
		client_cfg.endpoint = dup_or_null(cfg->endpoint);
		client_cfg.region = dup_or_null(cfg->region);
		client_cfg.access_key = dup_or_null(cfg->access_key);
		client_cfg.secret_key = dup_or_null(cfg->secret_key);
		client_cfg.session_token = dup_or_null(cfg->session_token);
		client_cfg.profile = dup_or_null(cfg->profile);
		client_cfg.credentials_file = dup_or_null(cfg->credentials_file);
		client_cfg.config_file = dup_or_null(cfg->config_file);
		client_cfg.origin = dup_or_null(cfg->origin);
	}
	strata_s3_close(client);
	client = NULL;
	pthread_mutex_unlock(&client_mu);
}

static int client_get(strata_s3 **out, strata_err *err)
{
	int rc = 0;
	pthread_mutex_lock(&client_mu);
	if (!client) {
		rc = strata_s3_open(has_client_cfg ? &client_cfg : NULL, &client, err);
		if (rc == 0) {
			char what[6000];
			strata_s3_describe(client, what, sizeof(what));
			LOG_INFO("data store s3://: %s", what);
		}
	}
	*out = client;
	pthread_mutex_unlock(&client_mu);
	if (rc < 0)
		strata_err_wrap(err, rc, "data store s3://");
	return rc;
}

void strata_store_s3_reset(void)
{
	pthread_mutex_lock(&client_mu);
	strata_s3_close(client);
	client = NULL;
	pthread_mutex_unlock(&client_mu);
	strata_store_s3_cache_clear();
}

/* "s3://BUCKET/KEY" into bucket and key. */
static int s3_path_split(const char *path, char *bucket, size_t bn, const char **key,
			 strata_err *err)
{
	const char *b = path + strlen(S3_SCHEME);
	const char *slash = strchr(b, '/');
	if (!slash || slash == b || !slash[1] || (size_t)(slash - b) >= bn)
		return strata_err_set(err, STRATA_EINVAL,
				      "\"%s\" is not an object path (expected s3://BUCKET/KEY)",
				      path);
	memcpy(bucket, b, (size_t)(slash - b));
	bucket[slash - b] = '\0';
	*key = slash + 1;
	return 0;
}

/* ---- the tail cache --------------------------------------------------------- */

typedef struct tail_ent {
	char *path;     /* NULL: a free slot */
	uint64_t hash;
	uint64_t size;  /* the object's */
	uint64_t tail_off;
	uint8_t *tail;  /* [tail_off, size) or NULL */
	size_t tail_len;
	uint64_t tick;
} tail_ent;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static tail_ent cache[TAIL_CACHE_ENTRIES];
static uint64_t cache_tick, cache_bytes;
static strata_store_cache_stats cache_stats;

static tail_ent *cache_find(const char *path, uint64_t h)
{
	for (int i = 0; i < TAIL_CACHE_ENTRIES; i++)
		if (cache[i].path && cache[i].hash == h && strcmp(cache[i].path, path) == 0)
			return &cache[i];
	return NULL;
}

static void cache_drop(tail_ent *e)
{
	cache_bytes -= e->tail_len;
	free(e->path);
	free(e->tail);
	memset(e, 0, sizeof(*e));
}

/* A slot for a new entry, evicting the least recently used. */
static tail_ent *cache_slot(void)
{
	tail_ent *lru = NULL;
	for (int i = 0; i < TAIL_CACHE_ENTRIES; i++) {
		if (!cache[i].path)
			return &cache[i];
		if (!lru || cache[i].tick < lru->tick)
			lru = &cache[i];
	}
	cache_drop(lru);
	return lru;
}

/* invariant 2: evict until need more bytes fit */
static void cache_make_room(size_t need, const tail_ent *keep)
{
	while (cache_bytes + need > TAIL_CACHE_BYTES) {
		tail_ent *lru = NULL;
		for (int i = 0; i < TAIL_CACHE_ENTRIES; i++)
			if (cache[i].path && cache[i].tail && &cache[i] != keep &&
			    (!lru || cache[i].tick < lru->tick))
				lru = &cache[i];
		if (!lru)
			return;
		cache_drop(lru);
	}
}

static bool cache_size_get(const char *path, uint64_t *size)
{
	uint64_t h = strata_hash64(path, strlen(path));
	pthread_mutex_lock(&cache_mu);
	tail_ent *e = cache_find(path, h);
	if (e) {
		e->tick = ++cache_tick;
		*size = e->size;
		cache_stats.size_hits++;
	} else {
		cache_stats.size_misses++;
	}
	pthread_mutex_unlock(&cache_mu);
	return e != NULL;
}

/* The entry of path, made (with its size) if there is none; under cache_mu. */
static tail_ent *cache_find_or_add(const char *path, uint64_t size)
{
	uint64_t h = strata_hash64(path, strlen(path));
	tail_ent *e = cache_find(path, h);
	if (!e) {
		e = cache_slot();
		e->path = strata_strdup(path);
		e->hash = h;
		e->size = size;
	}
	return e;
}

static void cache_size_put(const char *path, uint64_t size)
{
	pthread_mutex_lock(&cache_mu);
	tail_ent *e = cache_find_or_add(path, size);
	e->tick = ++cache_tick;
	pthread_mutex_unlock(&cache_mu);
}

/* Copy [off, off + n) from the cached tail; false if it is not all there. */
static bool cache_tail_read(const char *path, void *buf, size_t n, uint64_t off)
{
	uint64_t h = strata_hash64(path, strlen(path));
	bool is_hit = false;
	pthread_mutex_lock(&cache_mu);
	tail_ent *e = cache_find(path, h);
	if (e && e->tail && off >= e->tail_off && off + n <= e->tail_off + e->tail_len) {
		memcpy(buf, e->tail + (off - e->tail_off), n);
		e->tick = ++cache_tick;
		is_hit = true;
		cache_stats.tail_hits++;
	}
	pthread_mutex_unlock(&cache_mu);
	return is_hit;
}

/* Take tail ([tail_off, size)) into the cache (or free it). */
static void cache_tail_put(const char *path, uint64_t size, uint64_t tail_off, uint8_t *tail,
			   size_t len)
{
	pthread_mutex_lock(&cache_mu);
	cache_stats.tail_fetches++;
	tail_ent *e = cache_find_or_add(path, size);
	if (e->tail && e->tail_off <= tail_off) {
		free(tail); /* what is cached already covers it */
	} else {
		cache_make_room(len, e);
		cache_bytes -= e->tail_len;
		free(e->tail);
		e->tail = tail;
		e->tail_off = tail_off;
		e->tail_len = len;
		cache_bytes += len;
	}
	e->tick = ++cache_tick;
	pthread_mutex_unlock(&cache_mu);
}

static void cache_forget(const char *path)
{
	uint64_t h = strata_hash64(path, strlen(path));
	pthread_mutex_lock(&cache_mu);
	tail_ent *e = cache_find(path, h);
	if (e)
		cache_drop(e);
	pthread_mutex_unlock(&cache_mu);
}

void strata_store_s3_cache_clear(void)
{
	pthread_mutex_lock(&cache_mu);
	for (int i = 0; i < TAIL_CACHE_ENTRIES; i++)
		if (cache[i].path)
			cache_drop(&cache[i]);
	memset(&cache_stats, 0, sizeof(cache_stats));
	pthread_mutex_unlock(&cache_mu);
}

void strata_store_s3_cache_stats(strata_store_cache_stats *out)
{
	pthread_mutex_lock(&cache_mu);
	*out = cache_stats;
	out->bytes = cache_bytes;
	pthread_mutex_unlock(&cache_mu);
}

/* ---- writing ------------------------------------------------------------------ */

static int s3d_w_open(const char *path, void **h, strata_err *err)
{
	strata_s3 *c;
	char bucket[256];
	const char *key;
	int rc = client_get(&c, err);
	if (rc == 0)
		rc = s3_path_split(path, bucket, sizeof(bucket), &key, err);
	if (rc == 0)
		rc = strata_s3_writer_open(c, bucket, key, (strata_s3_writer **)h, err);
	return rc;
}

static int s3d_w_write(void *h, const void *buf, size_t n, strata_err *err)
{
	return strata_s3_writer_write(h, buf, n, err);
}

static int s3d_w_commit(void *h, strata_err *err)
{
	return strata_s3_writer_commit(h, err);
}

static void s3d_w_abort(void *h)
{
	strata_s3_writer_abort(h);
}

/* ---- reading ------------------------------------------------------------------ */

#define READ_CURSORS 8

typedef struct s3d_reader {
	strata_s3 *c;
	char bucket[256];
	const char *key; /* into path */
	char *path;
	uint64_t size;
	uint8_t *win;    /* the read-ahead window, allocated at first use */
	uint64_t win_off;
	size_t win_len;
	/* where the last READ_CURSORS reads ended: a read that starts at one
	 * goes on reading data (a page after the one before it, in one of the
	 * columns a scan reads side by side), never a tail read */
	uint64_t ends[READ_CURSORS];
	unsigned nends;
} s3d_reader;

static int s3d_r_open(const char *path, void **h, uint64_t *size, strata_err *err)
{
	s3d_reader *r = strata_calloc(1, sizeof(*r));
	r->path = strata_strdup(path);
	int rc = client_get(&r->c, err);
	if (rc == 0)
		rc = s3_path_split(r->path, r->bucket, sizeof(r->bucket), &r->key, err);
	bool need_head = false;
	if (rc == 0 && !cache_size_get(path, &r->size)) {
		/* cold: one suffix-range GET gives the size and the tail (a
		 * footer, a small file) at once; HEAD only where the server
		 * cannot answer it */
		uint8_t *tail = strata_malloc(TAIL_MIN_BYTES);
		size_t got = 0;
		uint64_t osize = 0;
		rc = strata_s3_get_tail(r->c, r->bucket, r->key, TAIL_MIN_BYTES, tail, &got, &osize,
					err);
		if (rc == 0) {
			r->size = osize;
			/* invariant 1 */
			cache_tail_put(path, osize, osize - got, tail, got);
		} else {
			free(tail);
		}
		if (rc == STRATA_EUNSUPPORTED) {
			strata_err_clear(err);
			rc = 0;
			need_head = true;
		}
	}
	if (rc == 0 && need_head) {
		strata_s3_obj obj;
		rc = strata_s3_head(r->c, r->bucket, r->key, &obj, err);
		if (rc == STRATA_ENOTFOUND) /* a missing data file is -ENOENT in every store */
			rc = err ? (err->code = -ENOENT) : -ENOENT;
		if (rc == 0) {
			r->size = obj.size;
			cache_size_put(path, obj.size); /* invariant 1 */
		}
	}
	if (rc == STRATA_ENOTFOUND) /* a missing data file is -ENOENT in every store */
		rc = err ? (err->code = -ENOENT) : -ENOENT;
	if (rc < 0) {
		free(r->path);
		free(r);
		return rc;
	}
	*size = r->size;
	*h = r;
	return 0;
}

/* One GET of exactly [off, off + n) (invariant 3). */
static int s3d_get(s3d_reader *r, void *buf, size_t n, uint64_t off, strata_err *err)
{
	size_t got = 0;
	int rc = strata_s3_get_range(r->c, r->bucket, r->key, off, n, buf, &got, err);
	if (rc == STRATA_ENOTFOUND) /* removed since its size was cached */
		rc = err ? (err->code = -ENOENT) : -ENOENT;
	if (rc < 0)
		return rc;
	if (got != n)
		return strata_err_set(err, STRATA_ECORRUPT,
				      "\"%s\": read of %zu bytes at offset %llu got %zu: the "
				      "object is shorter than its %llu bytes",
				      r->path, n, (unsigned long long)off, got,
				      (unsigned long long)r->size);
	return 0;
}

/* [off, off + n) of r into buf; is_next: it continues an earlier read (a
 * data page, not a tail). */
static int s3d_read_at(s3d_reader *r, void *buf, size_t n, uint64_t off, bool is_next,
		       strata_err *err)
{
	if (r->win && off >= r->win_off && off + n <= r->win_off + r->win_len) {
		memcpy(buf, r->win + (off - r->win_off), n);
		return 0;
	}
	if (r->win && off >= r->win_off && off < r->win_off + r->win_len) {
		/* starts in the window and runs past it (a page's header read
		 * fetched the window, now its body): the overlap from the
		 * window, only the rest by GET (invariant 4) */
		size_t k = (size_t)(r->win_off + r->win_len - off);
		memcpy(buf, r->win + (off - r->win_off), k);
		return s3d_read_at(r, (uint8_t *)buf + k, n - k, off + k, true, err);
	}
	if (cache_tail_read(r->path, buf, n, off))
		return 0;
	/* invariant 2: the pages a scan reads near the end are read, not
	 * cached as a tail (a merge of 8 inputs held 8 MiB of them) */
	if (r->size - off <= TAIL_MAX_BYTES && !is_next) {
		/* a tail read: the footer, the page index, a small file */
		uint64_t start = r->size > TAIL_MIN_BYTES ? r->size - TAIL_MIN_BYTES : 0;
		if (off < start)
			start = off;
		size_t len = (size_t)(r->size - start);
		uint8_t *tail = strata_malloc(len ? len : 1);
		int rc = s3d_get(r, tail, len, start, err);
		if (rc < 0) {
			free(tail);
			return rc;
		}
		memcpy(buf, tail + (off - start), n);
		cache_tail_put(r->path, r->size, start, tail, len);
		return 0;
	}
	if (n >= WINDOW_BYTES)
		return s3d_get(r, buf, n, off, err);
	/* a small read in the middle: fetch a window (invariant 2: one) */
	if (!r->win)
		r->win = strata_malloc(WINDOW_BYTES);
	size_t len = (size_t)STRATA_MIN((uint64_t)WINDOW_BYTES, r->size - off);
	r->win_len = 0;
	int rc = s3d_get(r, r->win, len, off, err);
	if (rc < 0)
		return rc;
	r->win_off = off;
	r->win_len = len;
	memcpy(buf, r->win, n);
	return 0;
}

static int s3d_r_read(void *h, void *buf, size_t n, uint64_t off, strata_err *err)
{
	s3d_reader *r = h;
	bool is_next = false;
	for (unsigned i = 0; i < STRATA_MIN(r->nends, READ_CURSORS) && !is_next; i++)
		is_next = r->ends[i] == off;
	r->ends[r->nends++ % READ_CURSORS] = off + n;
	return s3d_read_at(r, buf, n, off, is_next, err);
}

static void s3d_r_close(void *h)
{
	s3d_reader *r = h;
	if (!r)
		return;
	free(r->win);
	free(r->path);
	free(r);
}

/* ---- stat, remove, list --------------------------------------------------------- */

static int s3d_stat(const char *path, strata_data_stat *out, strata_err *err)
{
	strata_s3 *c;
	char bucket[256];
	const char *key;
	int rc = client_get(&c, err);
	if (rc == 0)
		rc = s3_path_split(path, bucket, sizeof(bucket), &key, err);
	strata_s3_obj obj;
	if (rc == 0)
		rc = strata_s3_head(c, bucket, key, &obj, err);
	if (rc == STRATA_ENOTFOUND) /* a missing data file is -ENOENT in every store */
		rc = err ? (err->code = -ENOENT) : -ENOENT;
	if (rc == 0) {
		out->size = obj.size;
		out->mtime_s = obj.mtime_s;
	}
	return rc;
}

static int s3d_remove(const char *path, strata_err *err)
{
	strata_s3 *c;
	char bucket[256];
	const char *key;
	int rc = client_get(&c, err);
	if (rc == 0)
		rc = s3_path_split(path, bucket, sizeof(bucket), &key, err);
	if (rc == 0) {
		cache_forget(path); /* invariant 1 */
		rc = strata_s3_delete(c, bucket, key, err);
	}
	return rc;
}

typedef struct s3d_list_ctx {
	size_t prefix_len;
	strata_data_list_fn fn;
	void *ctx;
} s3d_list_ctx;

static int s3d_list_one(void *ctx, const strata_s3_obj *obj)
{
	s3d_list_ctx *l = ctx;
	if (strlen(obj->key) <= l->prefix_len)
		return 0;
	strata_data_stat st = {.size = obj->size, .mtime_s = obj->mtime_s};
	return l->fn(l->ctx, obj->key + l->prefix_len, &st);
}

static int s3d_list(const char *dir, strata_data_list_fn fn, void *ctx, strata_err *err)
{
	strata_s3 *c;
	char bucket[256], prefix[1024];
	const char *key = NULL;
	int rc = client_get(&c, err);
	if (rc < 0)
		return rc;
	/* the bucket's root is "s3://BUCKET" or "s3://BUCKET/" */
	const char *b = dir + strlen(S3_SCHEME);
	const char *slash = strchr(b, '/');
	if (!slash || !slash[1]) {
		size_t bl = slash ? (size_t)(slash - b) : strlen(b);
		if (bl == 0 || bl >= sizeof(bucket))
			return strata_err_set(err, STRATA_EINVAL, "\"%s\" names no bucket", dir);
		memcpy(bucket, b, bl);
		bucket[bl] = '\0';
		prefix[0] = '\0';
	} else {
		rc = s3_path_split(dir, bucket, sizeof(bucket), &key, err);
		if (rc < 0)
			return rc;
		size_t kl = strlen(key);
		while (kl > 0 && key[kl - 1] == '/')
			kl--;
		if (kl + 2 > sizeof(prefix))
			return strata_err_set(err, STRATA_ELIMIT, "\"%s\": prefix too long", dir);
		memcpy(prefix, key, kl);
		prefix[kl] = '/';
		prefix[kl + 1] = '\0';
	}
	s3d_list_ctx l = {.prefix_len = strlen(prefix), .fn = fn, .ctx = ctx};
	return strata_s3_list(c, bucket, prefix[0] ? prefix : NULL, 1000, s3d_list_one, &l, err);
}

/* ---- prefetch ------------------------------------------------------------------ */

#define PREFETCH_THREADS 8
#define PREFETCH_BUDGET_BYTES (TAIL_CACHE_BYTES / 2)

typedef struct s3d_prefetch_ctx {
	const char *const *paths;
	size_t *want; /* bytes to fetch from the end, per path (0: skip) */
	size_t n;
	atomic_size_t next;
} s3d_prefetch_ctx;

static void *s3d_prefetch_worker(void *arg)
{
	s3d_prefetch_ctx *p = arg;
	strata_s3 *c;
	strata_err err;
	if (client_get(&c, &err) != 0)
		return NULL;
	for (size_t i; (i = atomic_fetch_add(&p->next, 1)) < p->n;) {
		if (!p->want[i])
			continue;
		char bucket[256];
		const char *key;
		if (s3_path_split(p->paths[i], bucket, sizeof(bucket), &key, &err) != 0)
			continue;
		uint8_t *tail = strata_malloc(p->want[i]);
		size_t got = 0;
		uint64_t size = 0;
		if (strata_s3_get_tail(c, bucket, key, p->want[i], tail, &got, &size, &err) == 0)
			cache_tail_put(p->paths[i], size, size - got, tail, got); /* invariant 1 */
		else
			free(tail); /* the read will say what is wrong */
	}
	return NULL;
}

/* A job's inputs: each one's size and tail (a small file whole, within
 * half the cache) fetched by up to PREFETCH_THREADS requests at once, so
 * that the opens that follow cost no round trip. */
static void s3d_prefetch(const char *const *paths, const uint64_t *sizes, size_t n)
{
	s3d_prefetch_ctx p = {.paths = paths, .n = n};
	p.want = strata_calloc(n + 1, sizeof(size_t));
	uint64_t budget = PREFETCH_BUDGET_BYTES;
	size_t nwant = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t cached;
		if (cache_size_get(paths[i], &cached))
			continue; /* warm already */
		if (sizes[i] > 0 && sizes[i] <= TAIL_MAX_BYTES && sizes[i] <= budget) {
			p.want[i] = (size_t)sizes[i];
			budget -= sizes[i];
		} else {
			p.want[i] = TAIL_MIN_BYTES;
		}
		nwant++;
	}
	size_t nthreads = STRATA_MIN(nwant, (size_t)PREFETCH_THREADS);
	pthread_t th[PREFETCH_THREADS];
	size_t started = 0;
	for (size_t t = 0; t < nthreads; t++)
		if (pthread_create(&th[t], NULL, s3d_prefetch_worker, &p) == 0)
			started++;
	if (started == 0 && nwant)
		s3d_prefetch_worker(&p); /* no thread to be had: in this one */
	for (size_t t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	free(p.want);
}

/* ---- unfinished multipart uploads ------------------------------------------------- */

typedef struct s3d_uploads_ctx {
	const char *scheme_bucket; /* "s3://BUCKET/" */
	int64_t cutoff_s;
	bool (*keep)(void *ctx, const char *path);
	void *keep_ctx;
	strata_s3_upload *v;
	size_t n, cap;
} s3d_uploads_ctx;

static int s3d_upload_one(void *ctx, const strata_s3_upload *up)
{
	s3d_uploads_ctx *u = ctx;
	if (up->initiated_s > u->cutoff_s)
		return 0;
	char path[1400];
	snprintf(path, sizeof(path), "%s%s", u->scheme_bucket, up->key);
	if (u->keep && u->keep(u->keep_ctx, path))
		return 0;
	if (u->n == u->cap) {
		u->cap = u->cap ? 2 * u->cap : 16;
		u->v = strata_realloc(u->v, u->cap * sizeof(*u->v));
	}
	u->v[u->n++] = *up;
	return 0;
}

/* Collect first, abort after: the listing is not changed under its
 * markers. */
static int s3d_abort_uploads(const char *dir, int64_t min_age_s, int64_t now_s,
			     bool (*keep)(void *ctx, const char *path), void *ctx, size_t *n,
			     strata_err *err)
{
	strata_s3 *c;
	char bucket[256], prefix[1100], sb[300];
	const char *key;
	*n = 0;
	int rc = client_get(&c, err);
	if (rc == 0)
		rc = s3_path_split(dir, bucket, sizeof(bucket), &key, err);
	if (rc < 0)
		return rc;
	snprintf(prefix, sizeof(prefix), "%s/", key);
	snprintf(sb, sizeof(sb), S3_SCHEME "%s/", bucket);
	s3d_uploads_ctx u = {.scheme_bucket = sb, .cutoff_s = now_s - min_age_s, .keep = keep,
			     .keep_ctx = ctx};
	rc = strata_s3_uploads_list(c, bucket, prefix, s3d_upload_one, &u, err);
	for (size_t i = 0; rc == 0 && i < u.n; i++) {
		LOG_INFO("aborting the multipart upload of s3://%s/%s begun %lld s ago", bucket,
			 u.v[i].key, (long long)(now_s - u.v[i].initiated_s));
		rc = strata_s3_upload_abort(c, bucket, u.v[i].key, u.v[i].upload_id, err);
		if (rc == STRATA_ENOTFOUND)
			rc = 0; /* finished or aborted meanwhile */
		if (rc == 0)
			(*n)++;
	}
	free(u.v);
	return rc;
}

/* ---- registration --------------------------------------------------------------- */

static const strata_store_ops s3_store_ops = {
	.scheme = S3_SCHEME,
	.w_open = s3d_w_open,
	.w_write = s3d_w_write,
	.w_commit = s3d_w_commit,
	.w_abort = s3d_w_abort,
	.r_open = s3d_r_open,
	.r_read = s3d_r_read,
	.r_close = s3d_r_close,
	.stat = s3d_stat,
	.remove = s3d_remove,
	.list = s3d_list,
	.abort_uploads = s3d_abort_uploads,
	.prefetch = s3d_prefetch,
};

void strata_store_s3_register(void)
{
	strata_store_register(&s3_store_ops);
}
