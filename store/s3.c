/*
 * store/s3.c — the S3 client: requests, retries, objects, streamed and
 * multipart uploads (contract: store/store.h).
 *
 * Every operation is one or more requests through s3_do(), which owns the
 * retry loop:
 *
 *     for attempt = 1 .. max_attempts:
 *         the fault hook may delay the attempt or answer it instead;
 *         send it (a fresh easy handle on the handle's shared connection
 *         cache, signed by libcurl's SigV4);
 *         2xx (and what the operation accepts, e.g. 416 for a range past
 *         the end): done, unless it is a completion's 200 with an <Error>
 *         body (transient: S3 started the answer before the work failed);
 *         a transient failure (connection error, timeout, 500, 502, 503,
 *         504, 429, RequestTimeout) on a request s3_retry_rules retries: sleep
 *         uniform[d/2, d], d = min(backoff_max_ms, backoff_base_ms *
 *         2^(attempt-1)), and go again;
 *         anything else: give up.
 *
 * Requests are signed as libcurl 7.88 does SigV4: it signs the path and
 * query exactly as they are in the URL, so s3_url() builds them already in
 * S3's canonical form (every component URI-encoded once, query parameters
 * sorted, a bare flag written "uploads="), and every request carries
 * x-amz-content-sha256: UNSIGNED-PAYLOAD (RGW refuses a request without it)
 * with a Content-MD5 on every body the server must check.
 *
 * A name is never overwritten: a new object's PUT (and the completion of a
 * multipart upload) carries If-None-Match: *.  That makes those two
 * retryable: the only way a retry can go wrong is a 412 (or, for a
 * completion, NoSuchUpload) because an earlier attempt of ours did land
 * and only its answer was lost.  s3_is_ours() tells: a HEAD whose size and
 * ETag are ours (the MD5 of the body; for a multipart upload the MD5 of the
 * parts' MD5s, "-N") means the object is the one we wrote, and the
 * operation succeeded; anything else is somebody else's object,
 * STRATA_EEXIST.
 *
 * Configuration is resolved once, at strata_s3_open(), in the AWS SDKs'
 * order (store.h): resolve_creds() for the keys, resolve_where() for the
 * endpoint, region and addressing (the program's settings, the
 * environment, the shared config file's profile, the default), each
 * remembering where it came from for strata_s3_describe().
 *
 * Invariants:
 *   1. the secret key and the session token are handed to libcurl and to
 *      nothing else: no message, log line or URL holds them;
 *   2. only the requests s3_retry_rules marks are retried, and a
 *      retried attempt starts from a clean slate (body rewound, reply
 *      buffers emptied);
 *   3. a streamed upload holds at most part_bytes of data; a failed part or
 *      completion poisons it and aborts its multipart upload;
 *   4. the counters count attempts, once each, including injected ones.
 *
 * Threads: a strata_s3 handle may be used by any number of threads at once
 * (its connection cache is shared under per-kind mutexes); a strata_s3_writer
 * by one thread at a time; strata_s3_fault_set() only while no request
 * runs.
 */
#include "store/store_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/parser.h>

#define S3_REPLY_MAX_BYTES (64u << 20) /* a listing page or a small reply */
#define S3_ERRBODY_MAX_BYTES (64u << 10)
#define S3_MAX_PARTS 10000

struct strata_s3 {
	char *endpoint, *region, *access, *secret, *token;
	bool is_virtual; /* SCHEME://BUCKET.HOST/KEY, else ENDPOINT/BUCKET/KEY */
	/* where each setting came from, for strata_s3_describe() */
	char endpoint_from[1200], region_from[1200], addressing_from[1200], creds_from[1200];
	char sigv4[160];
	uint64_t part_bytes;
	int connect_timeout_ms, idle_timeout_s, request_timeout_ms;
	int max_attempts, backoff_base_ms, backoff_max_ms;
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

/* ---- process-wide: init, fault hook, counters --------------------------------- */

static pthread_once_t s3_once = PTHREAD_ONCE_INIT;
static bool s3_init_ok;

static void s3_global_init(void)
{
	s3_init_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	xmlInitParser();
}

static strata_s3_fault_fn fault_fn;
static void *fault_ctx;

void strata_s3_fault_set(strata_s3_fault_fn fn, void *ctx)
{
	fault_ctx = ctx;
	fault_fn = fn;
}

static struct {
	_Atomic uint64_t gets, puts, heads, deletes, lists, posts, retries, failures, sent, received;
} stats;

void strata_s3_stats_get(strata_s3_stats *out)
{
	out->gets = atomic_load(&stats.gets);
	out->puts = atomic_load(&stats.puts);
	out->heads = atomic_load(&stats.heads);
	out->deletes = atomic_load(&stats.deletes);
	out->lists = atomic_load(&stats.lists);
	out->posts = atomic_load(&stats.posts);
	out->retries = atomic_load(&stats.retries);
	out->failures = atomic_load(&stats.failures);
	out->bytes_sent = atomic_load(&stats.sent);
	out->bytes_received = atomic_load(&stats.received);
}

void strata_s3_stats_reset(void)
{
	atomic_store(&stats.gets, 0);
	atomic_store(&stats.puts, 0);
	atomic_store(&stats.heads, 0);
	atomic_store(&stats.deletes, 0);
	atomic_store(&stats.lists, 0);
	atomic_store(&stats.posts, 0);
	atomic_store(&stats.retries, 0);
	atomic_store(&stats.failures, 0);
	atomic_store(&stats.sent, 0);
	atomic_store(&stats.received, 0);
}

/* ---- the handle ----------------------------------------------------------------- */

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access acc, void *ud)
{
	strata_s3 *c = ud;
	pthread_mutex_lock(&c->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	strata_s3 *c = ud;
	pthread_mutex_unlock(&c->locks[data]);
}

/* The first non-empty of a, then the environment variables e1, e2. */
static const char *pick(const char *a, const char *e1, const char *e2)
{
	if (a && *a)
		return a;
	const char *v = e1 ? getenv(e1) : NULL;
	if (v && *v)
		return v;
	v = e2 ? getenv(e2) : NULL;
	return v && *v ? v : NULL;
}

static int range_check(const char *what, long v, long lo, long hi, strata_err *err)
{
	if (v < lo || v > hi)
		return strata_err_set(err, STRATA_EINVAL,
				      "s3 setting %s must be from %ld to %ld (got %ld)", what, lo,
				      hi, v);
	return 0;
}

/* Credentials in the order of store.h into the three buffers; from says
 * where they came from (never what they are). */
static int resolve_creds(const strata_s3_config *cfg, const char *origin, char *access,
			 char *secret, char *token, size_t n, char *from, size_t fn,
			 strata_err *err)
{
	access[0] = secret[0] = token[0] = '\0';
	if (cfg->access_key && cfg->secret_key) {
		snprintf(access, n, "%s", cfg->access_key);
		snprintf(secret, n, "%s", cfg->secret_key);
		snprintf(token, n, "%s", cfg->session_token ? cfg->session_token : "");
		snprintf(from, fn, "%s", origin);
		return 0;
	}
	const char *ea = getenv("AWS_ACCESS_KEY_ID"), *es = getenv("AWS_SECRET_ACCESS_KEY");
	if (!(cfg->profile && *cfg->profile) && ea && *ea && es && *es) {
		const char *et = getenv("AWS_SESSION_TOKEN");
		snprintf(access, n, "%s", ea);
		snprintf(secret, n, "%s", es);
		snprintf(token, n, "%s", et ? et : "");
		snprintf(from, fn, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY%s",
			 et && *et ? " and AWS_SESSION_TOKEN" : "");
		return 0;
	}
	const char *profile = pick(cfg->profile, "AWS_PROFILE", NULL);
	if (!profile)
		profile = "default";
	char path[4096];
	const char *file = pick(cfg->credentials_file, "AWS_SHARED_CREDENTIALS_FILE", NULL);
	if (file) {
		snprintf(path, sizeof(path), "%s", file);
	} else {
		const char *home = getenv("HOME");
		if (!home || !*home)
			return strata_err_set(err, STRATA_EINVAL,
					      "no S3 credentials: set AWS_ACCESS_KEY_ID and "
					      "AWS_SECRET_ACCESS_KEY, or AWS_SHARED_CREDENTIALS_FILE "
					      "(HOME is not set, so there is no ~/.aws/credentials)");
		snprintf(path, sizeof(path), "%s/.aws/credentials", home);
	}
	int rc = s3_creds_file(path, profile, access, n, secret, n, token, n, err);
	if (rc == -ENOENT)
		strata_err_wrap(err, rc,
				"no S3 credentials (set AWS_ACCESS_KEY_ID and "
				"AWS_SECRET_ACCESS_KEY, or write profile [%s])",
				profile);
	else if (rc < 0)
		strata_err_wrap(err, rc, "no S3 credentials");
	if (rc < 0 && err)
		err->code = STRATA_EINVAL; /* a configuration error, whatever the cause */
	if (rc == 0)
		snprintf(from, fn, "profile [%s] of %s", profile, path);
	return rc < 0 ? STRATA_EINVAL : 0;
}

/* An environment variable set to true (case-insensitive). */
static bool env_true(const char *name)
{
	const char *v = getenv(name);
	return v && strcasecmp(v, "true") == 0;
}

/* Endpoint, region and addressing in the order of store.h (the shared
 * config file's profile read first), each with where it came from. */
static int resolve_where(strata_s3 *c, const strata_s3_config *cfg, const char *origin,
			 strata_err *err)
{
	const char *profile = pick(cfg->profile, "AWS_PROFILE", NULL);
	if (!profile)
		profile = "default";
	char path[4096] = "", where[4200] = "";
	const char *file = pick(cfg->config_file, "AWS_CONFIG_FILE", NULL);
	const char *home = getenv("HOME");
	if (file)
		snprintf(path, sizeof(path), "%s", file);
	else if (home && *home)
		snprintf(path, sizeof(path), "%s/.aws/config", home);
	s3_shared_cfg sc = {0};
	if (path[0]) {
		int rc = s3_shared_config(path, profile, &sc, err);
		if (rc < 0 && rc != -ENOENT)
			return strata_err_wrap(err, rc, "s3 configuration");
		if (strcmp(profile, "default") == 0)
			snprintf(where, sizeof(where), "[default] of %s", path);
		else
			snprintf(where, sizeof(where), "[profile %s] of %s", profile, path);
	}
	const char *v;
	/* region */
	if (cfg->region && *cfg->region) {
		c->region = strata_strdup(cfg->region);
		snprintf(c->region_from, sizeof(c->region_from), "%s", origin);
	} else if ((v = pick(NULL, "AWS_REGION", NULL)) || (v = pick(NULL, "AWS_DEFAULT_REGION", NULL))) {
		c->region = strata_strdup(v);
		snprintf(c->region_from, sizeof(c->region_from), "%s",
			 pick(NULL, "AWS_REGION", NULL) ? "AWS_REGION" : "AWS_DEFAULT_REGION");
	} else if (sc.region[0]) {
		c->region = strata_strdup(sc.region);
		snprintf(c->region_from, sizeof(c->region_from), "region in %s", where);
	} else {
		c->region = strata_strdup("us-east-1");
		snprintf(c->region_from, sizeof(c->region_from), "default");
	}
	/* endpoint */
	bool is_ignored = env_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") || sc.is_ignore_endpoints;
	if (cfg->endpoint && *cfg->endpoint) {
		c->endpoint = strata_strdup(cfg->endpoint);
		snprintf(c->endpoint_from, sizeof(c->endpoint_from), "%s", origin);
	} else if (!is_ignored && (v = pick(NULL, "AWS_ENDPOINT_URL_S3", NULL))) {
		c->endpoint = strata_strdup(v);
		snprintf(c->endpoint_from, sizeof(c->endpoint_from), "AWS_ENDPOINT_URL_S3");
	} else if (!is_ignored && (v = pick(NULL, "AWS_ENDPOINT_URL", NULL))) {
		c->endpoint = strata_strdup(v);
		snprintf(c->endpoint_from, sizeof(c->endpoint_from), "AWS_ENDPOINT_URL");
	} else if (!is_ignored && sc.s3_endpoint[0]) {
		c->endpoint = strata_strdup(sc.s3_endpoint);
		snprintf(c->endpoint_from, sizeof(c->endpoint_from),
			 "the s3 endpoint_url of the services section named in %s", where);
	} else if (!is_ignored && sc.endpoint[0]) {
		c->endpoint = strata_strdup(sc.endpoint);
		snprintf(c->endpoint_from, sizeof(c->endpoint_from), "endpoint_url in %s", where);
	} else {
		char def[256];
		snprintf(def, sizeof(def), "https://s3.%s.amazonaws.com", c->region);
		c->endpoint = strata_strdup(def);
		snprintf(c->endpoint_from, sizeof(c->endpoint_from), "default for the region");
	}
	/* addressing */
	if (cfg->addressing != STRATA_S3_ADDR_DEFAULT) {
		c->is_virtual = cfg->addressing == STRATA_S3_ADDR_VIRTUAL;
		snprintf(c->addressing_from, sizeof(c->addressing_from), "%s", origin);
	} else if (sc.addressing[0]) {
		c->is_virtual = strcmp(sc.addressing, "virtual") == 0;
		snprintf(c->addressing_from, sizeof(c->addressing_from), "s3 addressing_style in %s",
			 where);
	} else {
		snprintf(c->addressing_from, sizeof(c->addressing_from), "default");
	}
	size_t el = strlen(c->endpoint);
	while (el > 0 && c->endpoint[el - 1] == '/')
		c->endpoint[--el] = '\0';
	const char *host = strncmp(c->endpoint, "http://", 7) == 0    ? c->endpoint + 7
			   : strncmp(c->endpoint, "https://", 8) == 0 ? c->endpoint + 8
								      : NULL;
	if (!host || !*host)
		return strata_err_set(err, STRATA_EINVAL,
				      "s3 endpoint \"%s\" (from %s) must start with http:// or "
				      "https:// and name a host",
				      c->endpoint, c->endpoint_from);
	/* invariant 1: keys are never in a URL (nor in our messages, which
	 * show the endpoint) */
	const char *at = strchr(host, '@'), *slash = strchr(host, '/');
	if (at && (!slash || at < slash))
		return strata_err_set(err, STRATA_EINVAL,
				      "s3 endpoint from %s holds a user name or password: give "
				      "the keys in the environment or the credentials file, not "
				      "in the URL",
				      c->endpoint_from);
	return 0;
}

int strata_s3_open(const strata_s3_config *cfg_in, strata_s3 **out, strata_err *err)
{
	static const strata_s3_config none;
	const strata_s3_config *cfg = cfg_in ? cfg_in : &none;
	strata_s3 *c = NULL;
	char access[1024], secret[1024], token[4096];
	int rc;
	*out = NULL;
	pthread_once(&s3_once, s3_global_init);
	if (!s3_init_ok) {
		rc = strata_err_set(err, STRATA_EINVAL, "s3: libcurl could not be initialised");
		goto out;
	}
	if (cfg->part_bytes &&
	    (cfg->part_bytes < STRATA_S3_MIN_PART_BYTES || cfg->part_bytes > (5ull << 30))) {
		rc = strata_err_set(err, STRATA_EINVAL,
				    "s3 setting part_bytes must be from %u to %llu (got %llu)",
				    STRATA_S3_MIN_PART_BYTES, 5ull << 30,
				    (unsigned long long)cfg->part_bytes);
		goto out;
	}
	if ((rc = range_check("connect_timeout_ms", cfg->connect_timeout_ms, 0, 600000, err)) < 0 ||
	    (rc = range_check("idle_timeout_s", cfg->idle_timeout_s, 0, 3600, err)) < 0 ||
	    (rc = range_check("request_timeout_ms", cfg->request_timeout_ms, 0, 86400000, err)) <
		    0 ||
	    (rc = range_check("max_attempts", cfg->max_attempts, 0, 100, err)) < 0 ||
	    (rc = range_check("backoff_base_ms", cfg->backoff_base_ms, 0, 60000, err)) < 0 ||
	    (rc = range_check("backoff_max_ms", cfg->backoff_max_ms, 0, 600000, err)) < 0)
		goto out;
	const char *origin = cfg->origin && *cfg->origin ? cfg->origin : "the s3 configuration";
	c = strata_calloc(1, sizeof(*c));
	if ((rc = resolve_creds(cfg, origin, access, secret, token, sizeof(access),
				c->creds_from, sizeof(c->creds_from), err)) < 0 ||
	    (rc = resolve_where(c, cfg, origin, err)) < 0)
		goto out;
	c->access = strata_strdup(access);
	c->secret = strata_strdup(secret); /* invariant 1 */
	c->token = token[0] ? strata_strdup(token) : NULL;
	snprintf(c->sigv4, sizeof(c->sigv4), "aws:amz:%s:s3", c->region);
	c->part_bytes = cfg->part_bytes ? cfg->part_bytes : STRATA_S3_DEFAULT_PART_BYTES;
	c->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 5000;
	c->idle_timeout_s = cfg->idle_timeout_s ? cfg->idle_timeout_s : 30;
	c->request_timeout_ms = cfg->request_timeout_ms ? cfg->request_timeout_ms : 300000;
	c->max_attempts = cfg->max_attempts ? cfg->max_attempts : 5;
	c->backoff_base_ms = cfg->backoff_base_ms ? cfg->backoff_base_ms : 100;
	c->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : 5000;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	c->share = curl_share_init();
	if (!c->share) {
		rc = strata_err_set(err, STRATA_EINVAL, "s3: curl_share_init failed");
		goto out;
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	*out = c;
	c = NULL;
	rc = 0;
out:
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(token, sizeof(token));
	strata_s3_close(c);
	return rc;
}

void strata_s3_close(strata_s3 *c)
{
	if (!c)
		return;
	if (c->share) {
		curl_share_cleanup(c->share);
		for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
			pthread_mutex_destroy(&c->locks[i]);
	}
	if (c->secret)
		explicit_bzero(c->secret, strlen(c->secret));
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->endpoint);
	free(c->region);
	free(c->access);
	free(c->secret);
	free(c->token);
	free(c);
}

const char *strata_s3_endpoint(const strata_s3 *c)
{
	return c->endpoint;
}

const char *strata_s3_region(const strata_s3 *c)
{
	return c->region;
}

bool strata_s3_is_virtual(const strata_s3 *c)
{
	return c->is_virtual;
}

void strata_s3_describe(const strata_s3 *c, char *out, size_t n)
{
	/* invariant 1: names and sources only */
	snprintf(out, n, "endpoint %s (%s), region %s (%s), %s-style addressing (%s), "
			 "credentials from %s",
		 c->endpoint, c->endpoint_from, c->region, c->region_from,
		 c->is_virtual ? "virtual-hosted" : "path", c->addressing_from, c->creds_from);
}

/* ---- one request, with retries --------------------------------------------------- */

typedef struct s3_req {
	/* in */
	const char *op, *method, *bucket, *key;
	const char *query;      /* canonical (sorted, encoded), or NULL */
	const char *hdrs[4];    /* extra headers */
	const void *body;       /* sent when method is PUT or POST */
	size_t body_len;
	void *out;              /* a GET's body goes here (out_cap bytes) ... */
	size_t out_cap;
	uint64_t skip;          /* ... after skipping this much of a 200 */
	strata_buf *reply;      /* ... or here (XML), else it is dropped */
	const char *prefix;     /* LIST, LIST_MPU: named in messages (not a key) */
	int part;
	/* out */
	long status;
	int attempts;
	bool had_transient;     /* an earlier attempt failed transiently */
	bool is_error_in_200;   /* a completion answered 200 with an <Error> */
	size_t out_len;
	int64_t content_length, mtime_s;
	int64_t range_total;    /* Content-Range's "/TOTAL", -1 if none */
	char etag[80];
	char code[64], msg[256];
	CURLcode cc;
	char curl_msg[CURL_ERROR_SIZE];
	/* per attempt */
	CURL *h;
	size_t body_off;
	uint64_t skip_left;
	bool is_full, is_overflow;
	strata_buf errbody;
} s3_req;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	s3_req *r = ud;
	size_t n = size * nmemb;
	long st = 0;
	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &st);
	atomic_fetch_add(&stats.received, n);
	if (st < 200 || st >= 300) {
		size_t room = S3_ERRBODY_MAX_BYTES - STRATA_MIN(r->errbody.len, S3_ERRBODY_MAX_BYTES);
		strata_buf_append(&r->errbody, p, STRATA_MIN(n, room));
		return n;
	}
	if (r->out) {
		size_t k = 0;
		if (st == 200 && r->skip_left) { /* the server sent the whole object */
			k = (size_t)STRATA_MIN((uint64_t)n, r->skip_left);
			r->skip_left -= k;
		}
		size_t take = STRATA_MIN(n - k, r->out_cap - r->out_len);
		memcpy((char *)r->out + r->out_len, p + k, take);
		r->out_len += take;
		if (k + take < n) {
			/* more than we asked: the rest of a whole object (stop
			 * reading it), or a range reply that is too long */
			if (st == 200)
				r->is_full = true;
			else
				r->is_overflow = true;
			return 0;
		}
		return n;
	}
	if (r->reply) {
		if (r->reply->len + n > S3_REPLY_MAX_BYTES) {
			r->is_overflow = true;
			return 0;
		}
		strata_buf_append(r->reply, p, n);
	}
	return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	s3_req *r = ud;
	size_t n = size * nmemb;
	if (n > 14 && strncasecmp(p, "Content-Range:", 14) == 0) {
		/* "bytes FIRST-LAST/TOTAL" */
		const char *slash = memchr(p, '/', n);
		if (slash && slash + 1 < p + n && slash[1] >= '0' && slash[1] <= '9')
			r->range_total = strtoll(slash + 1, NULL, 10);
	}
	if (n > 5 && strncasecmp(p, "ETag:", 5) == 0) {
		const char *v = p + 5;
		size_t len = n - 5;
		while (len && (*v == ' ' || *v == '"')) {
			v++;
			len--;
		}
		while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ' ||
			       v[len - 1] == '"'))
			len--;
		snprintf(r->etag, sizeof(r->etag), "%.*s", (int)len, v);
	}
	return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *ud)
{
	s3_req *r = ud;
	size_t n = STRATA_MIN(size * nmemb, r->body_len - r->body_off);
	memcpy(p, (const char *)r->body + r->body_off, n);
	r->body_off += n;
	atomic_fetch_add(&stats.sent, n);
	return n;
}

/* libcurl rewinds the body to send it again (a reused connection that had
 * died, a redirect). */
static int on_seek(void *ud, curl_off_t off, int origin)
{
	s3_req *r = ud;
	if (origin != SEEK_SET || off < 0 || (uint64_t)off > r->body_len)
		return CURL_SEEKFUNC_FAIL;
	r->body_off = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

/* Path-style ENDPOINT/BUCKET[/KEY][?QUERY], or virtual-hosted
 * SCHEME://BUCKET.HOST[/PATH]/[KEY][?QUERY], each part in S3's canonical
 * encoding. */
static void s3_url(const strata_s3 *c, const s3_req *r, strata_buf *url)
{
	strata_buf_reset(url);
	if (c->is_virtual) {
		const char *host = strstr(c->endpoint, "://") + 3; /* checked at open */
		strata_buf_append(url, c->endpoint, (size_t)(host - c->endpoint));
		s3_uri_encode(url, r->bucket, false);
		strata_buf_printf(url, ".%s/", host);
		if (r->key && *r->key)
			s3_uri_encode(url, r->key, true);
	} else {
		strata_buf_printf(url, "%s/", c->endpoint);
		s3_uri_encode(url, r->bucket, false);
		if (r->key && *r->key) {
			strata_buf_putc(url, '/');
			s3_uri_encode(url, r->key, true);
		}
	}
	if (r->query && *r->query)
		strata_buf_printf(url, "?%s", r->query);
	strata_buf_putc(url, '\0');
}

static void count_attempt(const s3_req *r)
{
	if (strcmp(r->op, "LIST") == 0 || strcmp(r->op, "LIST_MPU") == 0)
		atomic_fetch_add(&stats.lists, 1);
	else if (strcmp(r->method, "GET") == 0)
		atomic_fetch_add(&stats.gets, 1);
	else if (strcmp(r->method, "PUT") == 0)
		atomic_fetch_add(&stats.puts, 1);
	else if (strcmp(r->method, "HEAD") == 0)
		atomic_fetch_add(&stats.heads, 1);
	else if (strcmp(r->method, "DELETE") == 0)
		atomic_fetch_add(&stats.deletes, 1);
	else
		atomic_fetch_add(&stats.posts, 1);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* uniform [d/2, d], d = min(max, base * 2^(retry-1)) */
static int backoff_ms(const strata_s3 *c, int retry)
{
	static _Thread_local uint64_t seed;
	if (!seed)
		seed = (uint64_t)strata_mono_us() ^ (uint64_t)(uintptr_t)&seed ^ 0x9e3779b97f4a7c15ull;
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	int64_t d = c->backoff_base_ms;
	for (int i = 1; i < retry && d < c->backoff_max_ms; i++)
		d *= 2;
	d = STRATA_MIN(d, (int64_t)c->backoff_max_ms);
	if (d <= 1)
		return (int)d;
	return (int)(d / 2 + (int64_t)(seed % (uint64_t)(d - d / 2 + 1)));
}

/* Which requests s3_do() sends again after a transient failure, and why
 * a second copy of each is safe (store.h, "Retries"; invariant 2).  S3
 * calls only the reads, DELETE and UploadPart idempotent; the other four
 * are retried because what a repeat can do is known and repaired:
 *
 *   op             a repeat after an attempt that landed unseen
 *   GET HEAD LIST LIST_MPU   reads the same
 *   DELETE         204 again (a missing key is not an error)
 *   ABORT_MPU      NoSuchUpload, taken as done (strata_s3_upload_abort)
 *   UPLOAD_PART    the same part number with the same bytes: replaces
 *                  itself
 *   PUT            If-None-Match: * gives 412 and lands nothing; the
 *                  HEAD of s3_is_ours() tells our landed object (success)
 *                  from somebody else's (STRATA_EEXIST)
 *   COMPLETE_MPU   200 again (RGW), 412 (a server honouring If-None-Match)
 *                  or NoSuchUpload: the last two are told by s3_is_ours();
 *                  never a second object (the parts are consumed once)
 *   CREATE_MPU     a second upload id: the writer aborts the spare one
 *                  (put_abort_spares), and one it cannot see (still in
 *                  flight at the server) is a stale upload clean aborts
 *   CREATE_BUCKET  409 BucketAlreadyOwnedByYou, taken as done
 *
 * An op missing from the table is never retried. */
static const struct s3_retry_rule {
	const char *op;
	bool is_retried;
} s3_retry_rules[] = {
	{"GET", true},        {"HEAD", true},       {"LIST", true},
	{"LIST_MPU", true},   {"DELETE", true},     {"ABORT_MPU", true},
	{"UPLOAD_PART", true}, {"PUT", true},       {"COMPLETE_MPU", true},
	{"CREATE_MPU", true}, {"CREATE_BUCKET", true},
};

static bool is_retried(const s3_req *r)
{
	for (size_t i = 0; i < STRATA_ARRAY_LEN(s3_retry_rules); i++)
		if (strcmp(s3_retry_rules[i].op, r->op) == 0)
			return s3_retry_rules[i].is_retried;
	return false;
}

/* What a request names in messages: its key, or a listing's prefix. */
static const char *req_name(const s3_req *r)
{
	if (r->key && *r->key)
		return r->key;
	return r->prefix ? r->prefix : "";
}

static bool is_transient(const s3_req *r)
{
	switch (r->cc) {
	case CURLE_OK:
		break;
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
		return true;
	default:
		return false;
	}
	return r->is_error_in_200 || r->status == 500 || r->status == 502 || r->status == 503 ||
	       r->status == 504 || r->status == 429 ||
	       (r->status == 400 && strcmp(r->code, "RequestTimeout") == 0);
}

/* One attempt: fills r->cc, r->status and the reply. */
static void s3_attempt(strata_s3 *c, s3_req *r, const char *url, struct curl_slist *hl)
{
	r->cc = CURLE_OK;
	r->status = 0;
	r->out_len = 0;
	r->body_off = 0;
	r->skip_left = r->skip;
	r->is_full = r->is_overflow = r->is_error_in_200 = false;
	r->etag[0] = r->code[0] = r->msg[0] = r->curl_msg[0] = '\0';
	r->content_length = -1;
	r->range_total = -1;
	r->mtime_s = 0;
	strata_buf_reset(&r->errbody);
	if (r->reply)
		strata_buf_reset(r->reply);
	count_attempt(r); /* invariant 4 */
	bool is_answer_lost = false;
	if (fault_fn) {
		strata_s3_req_info info = {r->op, r->bucket, r->key ? r->key : "", r->part,
					   r->attempts};
		strata_s3_fault f = {0};
		fault_fn(fault_ctx, &info, &f);
		if (f.delay_ms > 0)
			sleep_ms(f.delay_ms);
		is_answer_lost = f.is_answer_lost;
		if (f.is_conn_error) {
			r->cc = CURLE_COULDNT_CONNECT;
			snprintf(r->curl_msg, sizeof(r->curl_msg), "injected connection failure");
			return;
		}
		if (f.status > 0) {
			r->status = f.status;
			snprintf(r->code, sizeof(r->code), "%s", f.code);
			snprintf(r->msg, sizeof(r->msg), "injected by the fault hook");
			return;
		}
	}
	CURL *h = curl_easy_init();
	if (!h) {
		r->cc = CURLE_OUT_OF_MEMORY;
		return;
	}
	r->h = h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	/* invariant 1: the keys go to libcurl's signer only */
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, c->sigv4);
	curl_easy_setopt(h, CURLOPT_USERNAME, c->access);
	curl_easy_setopt(h, CURLOPT_PASSWORD, c->secret);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->request_timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)c->idle_timeout_s);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curl_msg);
	curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
	if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "PUT") == 0 || strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, r);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
	} else if (strcmp(r->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
	r->cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->cc == CURLE_WRITE_ERROR && r->is_full)
		r->cc = CURLE_OK; /* we stopped reading what we did not ask for */
	curl_off_t cl = -1, ft = -1;
	curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	curl_easy_getinfo(h, CURLINFO_FILETIME_T, &ft);
	r->content_length = cl;
	r->mtime_s = ft > 0 ? ft : 0;
	if (r->cc == CURLE_OK && (r->status < 200 || r->status >= 300))
		s3_xml_error((const char *)r->errbody.data, r->errbody.len, r->code,
			     sizeof(r->code), r->msg, sizeof(r->msg));
	if (r->cc != CURLE_OK && !r->curl_msg[0])
		snprintf(r->curl_msg, sizeof(r->curl_msg), "%s", curl_easy_strerror(r->cc));
	if (is_answer_lost && r->cc == CURLE_OK) {
		/* the server acted on it; the client never hears */
		r->cc = CURLE_RECV_ERROR;
		r->status = 0;
		r->code[0] = r->msg[0] = '\0';
		snprintf(r->curl_msg, sizeof(r->curl_msg),
			 "injected by the fault hook: the answer was lost");
	}
	r->h = NULL;
	curl_easy_cleanup(h);
}

/* The code and message for a request that gave up (or was refused). */
static int s3_fail(const s3_req *r, double secs, strata_err *err)
{
	const char *key = req_name(r);
	char where[1200];
	snprintf(where, sizeof(where), "s3 %s s3://%s%s%s", r->op, r->bucket, *key ? "/" : "",
		 key);
	char tries[96];
	snprintf(tries, sizeof(tries), "%d attempt%s over %.1f s", r->attempts,
		 r->attempts == 1 ? "" : "s", secs);
	if (r->cc != CURLE_OK) {
		int code = r->cc == CURLE_OPERATION_TIMEDOUT	? -ETIMEDOUT
			   : r->cc == CURLE_COULDNT_CONNECT	? -ECONNREFUSED
			   : r->is_overflow			? STRATA_ECORRUPT
								: -EIO;
		const char *what = r->is_overflow ? "the reply is longer than asked for" : r->curl_msg;
		return strata_err_set(err, code, "%s: %s (%s; endpoint unreachable, stopped or too "
						 "slow?)",
				      where, what, tries);
	}
	int code;
	switch (r->status) {
	case 404:
		code = STRATA_ENOTFOUND;
		break;
	case 412:
		code = STRATA_EEXIST;
		break;
	case 401:
	case 403:
		code = -EACCES;
		break;
	default:
		code = r->status >= 500 || r->status == 429 || r->is_error_in_200 ? -EIO
										    : STRATA_EINVAL;
	}
	const char *hint = code == -EACCES	   ? " (check the access key, secret and region)"
			   : code == STRATA_EEXIST ? " (the name exists: objects are never overwritten)"
						   : "";
	return strata_err_set(err, code, "%s: HTTP %ld %s%s%s%s (%s)", where, r->status,
			      r->code[0] ? r->code : "(no error code)", r->msg[0] ? ": " : "",
			      r->msg, hint, tries);
}

/* S3 may answer a completion 200 and then put an error in the body (the
 * answer starts before the work ends, to keep the connection alive); AWS
 * says to retry it.  Fills r->code and r->msg from the body (an injected
 * 200 carries its code already). */
static bool has_error_in_200(s3_req *r)
{
	if (!r->code[0] && r->reply)
		s3_xml_error((const char *)r->reply->data, r->reply->len, r->code,
			     sizeof(r->code), r->msg, sizeof(r->msg));
	r->is_error_in_200 = r->code[0] != '\0';
	return r->is_error_in_200;
}

/* Send r with retries (invariant 2).  0 when the last answer is 2xx or one
 * of accept (0-terminated); else the error of s3_fail(). */
static int s3_do(strata_s3 *c, s3_req *r, const long *accept, strata_err *err)
{
	strata_buf url = {0};
	struct curl_slist *hl = NULL;
	char tok[4200];
	int64_t t0 = strata_mono_us();
	int rc = 0;
	s3_url(c, r, &url);
	hl = curl_slist_append(hl, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	/* no "Expect:" to turn 100-continue off: libcurl 7.88 signs a header
	 * that it then does not send (RGW answers SignatureDoesNotMatch) */
	if (c->token) {
		snprintf(tok, sizeof(tok), "x-amz-security-token: %s", c->token);
		hl = curl_slist_append(hl, tok);
		explicit_bzero(tok, sizeof(tok));
	}
	for (size_t i = 0; i < STRATA_ARRAY_LEN(r->hdrs) && r->hdrs[i]; i++)
		hl = curl_slist_append(hl, r->hdrs[i]);
	r->had_transient = false;
	for (r->attempts = 1;; r->attempts++) {
		if (r->attempts > 1) {
			atomic_fetch_add(&stats.retries, 1);
			int ms = backoff_ms(c, r->attempts - 1);
			char what[CURL_ERROR_SIZE + 80];
			if (r->cc)
				snprintf(what, sizeof(what), "%s", r->curl_msg);
			else
				snprintf(what, sizeof(what), "HTTP %ld %s", r->status, r->code);
			LOG_INFO("s3 %s s3://%s/%s: %s, retry %d of %d in %d ms", r->op, r->bucket,
				 req_name(r), what, r->attempts - 1, c->max_attempts - 1,
				 ms);
			sleep_ms(ms);
		}
		s3_attempt(c, r, (const char *)url.data, hl);
		bool is_ok = r->cc == CURLE_OK && !r->is_overflow &&
			     r->status >= 200 && r->status < 300;
		if (is_ok && strcmp(r->op, "COMPLETE_MPU") == 0 && has_error_in_200(r))
			is_ok = false;
		for (const long *a = accept; !is_ok && a && *a; a++)
			is_ok = r->cc == CURLE_OK && r->status == *a;
		if (is_ok)
			break;
		bool is_again = is_transient(r);
		if (!is_again || !is_retried(r) || r->attempts >= c->max_attempts) {
			rc = s3_fail(r, (double)(strata_mono_us() - t0) / 1e6, err);
			if (rc != STRATA_EEXIST && rc != STRATA_ENOTFOUND)
				atomic_fetch_add(&stats.failures, 1);
			break;
		}
		r->had_transient = true;
	}
	LOG_DEBUG("s3 %s s3://%s/%s: HTTP %ld after %d attempt(s)", r->op, r->bucket,
		  req_name(r), r->status, r->attempts);
	curl_slist_free_all(hl);
	strata_buf_free(&url);
	strata_buf_free(&r->errbody);
	return rc;
}

/* ---- objects ------------------------------------------------------------------------ */

int strata_s3_bucket_create(strata_s3 *c, const char *bucket, strata_err *err)
{
	s3_req r = {.op = "CREATE_BUCKET", .method = "PUT", .bucket = bucket};
	int rc = s3_do(c, &r, NULL, err);
	if (rc < 0 && r.status == 409 && strcmp(r.code, "BucketAlreadyOwnedByYou") == 0) {
		strata_err_clear(err);
		rc = 0;
	}
	return rc;
}

/* Whether the object at key is the one we wrote: its size and ETag. */
static bool s3_is_ours(strata_s3 *c, const char *bucket, const char *key, uint64_t size,
		       const char *etag)
{
	strata_s3_obj o;
	strata_err herr;
	if (strata_s3_head(c, bucket, key, &o, &herr) < 0)
		return false;
	return o.size == size && strcmp(o.etag, etag) == 0;
}

/* One If-None-Match PUT of n bytes. */
static int put_single(strata_s3 *c, const char *bucket, const char *key, const void *buf,
		      size_t n, strata_err *err)
{
	uint8_t d[16];
	char md5b64[32], md5hex[33], hmd5[64];
	s3_md5 m;
	s3_md5_init(&m);
	s3_md5_update(&m, buf, n);
	s3_md5_final(&m, d);
	s3_base64(d, 16, md5b64, sizeof(md5b64));
	s3_md5_hex(d, md5hex);
	snprintf(hmd5, sizeof(hmd5), "Content-MD5: %s", md5b64);
	s3_req r = {.op = "PUT", .method = "PUT", .bucket = bucket, .key = key,
		    .hdrs = {"If-None-Match: *", hmd5}, .body = buf, .body_len = n};
	int rc = s3_do(c, &r, NULL, err);
	if (rc == STRATA_EEXIST && r.had_transient && s3_is_ours(c, bucket, key, n, md5hex)) {
		LOG_INFO("s3 PUT s3://%s/%s: 412 on attempt %d, and the object there has our size "
			 "and MD5: an earlier attempt landed",
			 bucket, key, r.attempts);
		strata_err_clear(err);
		rc = 0;
	}
	return rc;
}

int strata_s3_put(strata_s3 *c, const char *bucket, const char *key, const void *buf, size_t n,
		  strata_err *err)
{
	if (n <= c->part_bytes)
		return put_single(c, bucket, key, buf, n, err);
	strata_s3_writer *p = NULL;
	int rc = strata_s3_writer_open(c, bucket, key, &p, err);
	if (rc < 0)
		return rc;
	if ((rc = strata_s3_writer_write(p, buf, n, err)) < 0) {
		strata_s3_writer_abort(p);
		return rc;
	}
	return strata_s3_writer_commit(p, err);
}

int strata_s3_get_range(strata_s3 *c, const char *bucket, const char *key, uint64_t off,
			size_t n, void *buf, size_t *got, strata_err *err)
{
	*got = 0;
	if (n == 0)
		return 0;
	char range[80];
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + n - 1));
	s3_req r = {.op = "GET", .method = "GET", .bucket = bucket, .key = key,
		    .hdrs = {range}, .out = buf, .out_cap = n, .skip = off};
	static const long accept[] = {416, 0}; /* off at or past the end */
	int rc = s3_do(c, &r, accept, err);
	if (rc < 0)
		return rc;
	if (r.status == 416)
		return 0;
	if (r.status == 200 && r.skip_left > 0)
		return 0; /* the whole object is shorter than off */
	*got = r.out_len;
	return 0;
}

int strata_s3_get_tail(strata_s3 *c, const char *bucket, const char *key, size_t n, void *buf,
		       size_t *got, uint64_t *size, strata_err *err)
{
	*got = 0;
	*size = 0;
	if (n == 0)
		return strata_err_set(err, STRATA_EINVAL, "s3: a tail read of 0 bytes");
	char range[80];
	snprintf(range, sizeof(range), "Range: bytes=-%zu", n);
	s3_req r = {.op = "GET", .method = "GET", .bucket = bucket, .key = key,
		    .hdrs = {range}, .out = buf, .out_cap = n};
	static const long accept[] = {416, 0}; /* an empty object */
	int rc = s3_do(c, &r, accept, err);
	if (rc < 0)
		return rc;
	if (r.status == 416)
		return 0;
	if (r.status == 206 && r.range_total >= 0 && (uint64_t)r.range_total >= r.out_len) {
		*size = (uint64_t)r.range_total;
		*got = r.out_len;
		return 0;
	}
	if (r.status == 200 && !r.is_full) { /* the whole object, no larger than n */
		*size = r.out_len;
		*got = r.out_len;
		return 0;
	}
	return strata_err_set(err, STRATA_EUNSUPPORTED,
			      "s3 GET s3://%s/%s: the server did not answer a suffix range "
			      "(HTTP %ld%s)",
			      bucket, key, r.status, r.range_total < 0 ? ", no Content-Range" : "");
}

int strata_s3_head(strata_s3 *c, const char *bucket, const char *key, strata_s3_obj *out,
		   strata_err *err)
{
	s3_req r = {.op = "HEAD", .method = "HEAD", .bucket = bucket, .key = key};
	memset(out, 0, sizeof(*out));
	int rc = s3_do(c, &r, NULL, err);
	if (rc < 0)
		return rc;
	snprintf(out->key, sizeof(out->key), "%s", key);
	out->size = r.content_length > 0 ? (uint64_t)r.content_length : 0;
	snprintf(out->etag, sizeof(out->etag), "%s", r.etag);
	out->mtime_s = r.mtime_s;
	return 0;
}

int strata_s3_delete(strata_s3 *c, const char *bucket, const char *key, strata_err *err)
{
	s3_req r = {.op = "DELETE", .method = "DELETE", .bucket = bucket, .key = key};
	int rc = s3_do(c, &r, NULL, err);
	if (rc == STRATA_ENOTFOUND && strcmp(r.code, "NoSuchKey") == 0) {
		strata_err_clear(err);
		rc = 0;
	}
	return rc;
}

/* name=value& with value encoded, onto q (callers add them in sorted order) */
static void q_add(strata_buf *q, const char *name, const char *value)
{
	if (q->len)
		strata_buf_putc(q, '&');
	strata_buf_printf(q, "%s=", name);
	s3_uri_encode(q, value ? value : "", false);
}

int strata_s3_list(strata_s3 *c, const char *bucket, const char *prefix, int page_keys,
		   strata_s3_list_fn fn, void *ctx, strata_err *err)
{
	strata_buf q = {0}, reply = {0}, token = {0};
	char maxk[16];
	int rc = 0;
	snprintf(maxk, sizeof(maxk), "%d", page_keys > 0 && page_keys <= 1000 ? page_keys : 1000);
	for (bool is_first = true;; is_first = false) {
		strata_buf_reset(&q);
		if (!is_first)
			q_add(&q, "continuation-token", (const char *)token.data);
		q_add(&q, "list-type", "2");
		q_add(&q, "max-keys", maxk);
		if (prefix && *prefix)
			q_add(&q, "prefix", prefix);
		strata_buf_putc(&q, '\0');
		s3_req r = {.op = "LIST", .method = "GET", .bucket = bucket,
			    .query = (const char *)q.data, .reply = &reply, .prefix = prefix};
		if ((rc = s3_do(c, &r, NULL, err)) < 0)
			goto out;
		bool is_truncated = false;
		int fn_rc = 0;
		if (s3_xml_list((const char *)reply.data, reply.len, fn, ctx, &is_truncated, &token,
				&fn_rc) < 0) {
			rc = strata_err_set(err, STRATA_ECORRUPT,
					    "s3 LIST s3://%s/%s: the reply is not a ListBucketResult",
					    bucket, prefix ? prefix : "");
			goto out;
		}
		if ((rc = fn_rc) != 0)
			goto out;
		if (!is_truncated)
			break;
		if (token.len == 0) {
			rc = strata_err_set(err, STRATA_ECORRUPT,
					    "s3 LIST s3://%s/%s: a truncated page without a "
					    "continuation token",
					    bucket, prefix ? prefix : "");
			goto out;
		}
	}
out:
	strata_buf_free(&q);
	strata_buf_free(&reply);
	strata_buf_free(&token);
	return rc;
}

/* ---- multipart uploads -------------------------------------------------------------- */

int strata_s3_uploads_list(strata_s3 *c, const char *bucket, const char *prefix,
			   strata_s3_upload_fn fn, void *ctx, strata_err *err)
{
	strata_buf q = {0}, reply = {0}, next_key = {0}, next_id = {0};
	int rc = 0;
	for (bool is_first = true;; is_first = false) {
		strata_buf_reset(&q);
		if (!is_first)
			q_add(&q, "key-marker", (const char *)next_key.data);
		if (prefix && *prefix)
			q_add(&q, "prefix", prefix);
		if (!is_first)
			q_add(&q, "upload-id-marker", (const char *)next_id.data);
		q_add(&q, "uploads", "");
		strata_buf_putc(&q, '\0');
		s3_req r = {.op = "LIST_MPU", .method = "GET", .bucket = bucket,
			    .query = (const char *)q.data, .reply = &reply, .prefix = prefix};
		if ((rc = s3_do(c, &r, NULL, err)) < 0)
			goto out;
		bool is_truncated = false;
		int fn_rc = 0;
		if (s3_xml_uploads((const char *)reply.data, reply.len, fn, ctx, &is_truncated,
				   &next_key, &next_id, &fn_rc) < 0) {
			rc = strata_err_set(err, STRATA_ECORRUPT,
					    "s3 LIST_MPU s3://%s/%s: the reply is not a "
					    "ListMultipartUploadsResult",
					    bucket, prefix ? prefix : "");
			goto out;
		}
		if ((rc = fn_rc) != 0 || !is_truncated)
			goto out;
		if (next_key.len == 0) {
			rc = strata_err_set(err, STRATA_ECORRUPT,
					    "s3 LIST_MPU s3://%s/%s: a truncated page without a "
					    "marker",
					    bucket, prefix ? prefix : "");
			goto out;
		}
	}
out:
	strata_buf_free(&q);
	strata_buf_free(&reply);
	strata_buf_free(&next_key);
	strata_buf_free(&next_id);
	return rc;
}

int strata_s3_upload_abort(strata_s3 *c, const char *bucket, const char *key,
			   const char *upload_id, strata_err *err)
{
	strata_buf q = {0};
	q_add(&q, "uploadId", upload_id);
	strata_buf_putc(&q, '\0');
	s3_req r = {.op = "ABORT_MPU", .method = "DELETE", .bucket = bucket, .key = key,
		    .query = (const char *)q.data};
	int rc = s3_do(c, &r, NULL, err);
	if (rc == STRATA_ENOTFOUND && strcmp(r.code, "NoSuchUpload") == 0) {
		strata_err_clear(err); /* gone already (a retried abort) */
		rc = 0;
	}
	strata_buf_free(&q);
	return rc;
}

struct stale_ctx {
	int64_t before_s;
	strata_s3_upload *ups;
	size_t n, cap;
};

static int stale_collect(void *ctx, const strata_s3_upload *up)
{
	struct stale_ctx *s = ctx;
	if (up->initiated_s > s->before_s)
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->ups = strata_realloc(s->ups, s->cap * sizeof(*s->ups));
	}
	s->ups[s->n++] = *up;
	return 0;
}

int strata_s3_uploads_abort_stale(strata_s3 *c, const char *bucket, const char *prefix,
				  int64_t min_age_s, int64_t now_s, int *n_aborted, strata_err *err)
{
	struct stale_ctx s = {.before_s = now_s - min_age_s};
	int rc = strata_s3_uploads_list(c, bucket, prefix, stale_collect, &s, err);
	int done = 0;
	for (size_t i = 0; rc == 0 && i < s.n; i++) {
		rc = strata_s3_upload_abort(c, bucket, s.ups[i].key, s.ups[i].upload_id, err);
		if (rc == 0) {
			done++;
			LOG_INFO("s3: aborted the multipart upload of s3://%s/%s started %lld s ago "
				 "(older than %lld s)",
				 bucket, s.ups[i].key, (long long)(now_s - s.ups[i].initiated_s),
				 (long long)min_age_s);
		}
	}
	if (n_aborted)
		*n_aborted = done;
	free(s.ups);
	return rc;
}

/* ---- streamed uploads ------------------------------------------------------------------ */

struct strata_s3_writer {
	strata_s3 *c;
	char *bucket, *key;
	uint8_t *buf; /* invariant 3: at most part_bytes */
	size_t len;
	uint64_t total;
	char upload_id[256];
	int nparts;
	char (*etags)[80];     /* per part, from the server */
	uint8_t (*md5s)[16];   /* per part, ours */
	bool is_poisoned;
};

int strata_s3_writer_open(strata_s3 *c, const char *bucket, const char *key, strata_s3_writer **out,
		       strata_err *err)
{
	if (!bucket || !*bucket || !key || !*key)
		return strata_err_set(err, STRATA_EINVAL, "s3: an upload needs a bucket and a key");
	strata_s3_writer *p = strata_calloc(1, sizeof(*p));
	p->c = c;
	p->bucket = strata_strdup(bucket);
	p->key = strata_strdup(key);
	p->buf = strata_malloc(c->part_bytes);
	*out = p;
	return 0;
}

uint64_t strata_s3_writer_offset(const strata_s3_writer *p)
{
	return p->total;
}

static void put_free(strata_s3_writer *p)
{
	free(p->bucket);
	free(p->key);
	free(p->buf);
	free(p->etags);
	free(p->md5s);
	free(p);
}

/* Invariant 3: the upload is aborted and the handle poisoned. */
static int put_poison(strata_s3_writer *p, int rc)
{
	p->is_poisoned = true;
	if (p->upload_id[0]) {
		strata_err aerr;
		if (strata_s3_upload_abort(p->c, p->bucket, p->key, p->upload_id, &aerr) < 0)
			LOG_ERROR("%s (the upload stays until a stale-upload clean aborts it)",
				  aerr.msg);
		p->upload_id[0] = '\0';
	}
	return rc;
}

/* STRATA_EEXIST if the writer's name exists.  Servers that ignore
 * If-None-Match on CompleteMultipartUpload (RGW 16 does) would let a
 * multipart upload overwrite: this HEAD, before the upload starts and again
 * just before it completes, refuses every existing name but one that
 * appears in between (the window is one round trip); on servers that
 * honour the header the completion itself refuses that one too. */
static int put_check_new(strata_s3_writer *p, strata_err *err)
{
	strata_s3_obj o;
	int rc = strata_s3_head(p->c, p->bucket, p->key, &o, err);
	if (rc == STRATA_ENOTFOUND) {
		strata_err_clear(err);
		return 0;
	}
	if (rc == 0)
		return strata_err_set(err, STRATA_EEXIST,
				      "s3 PUT s3://%s/%s: the name exists (%llu bytes, ETag %s): "
				      "objects are never overwritten",
				      p->bucket, p->key, (unsigned long long)o.size, o.etag);
	return rc;
}

/* A retried CreateMultipartUpload may have made an upload whose answer
 * was lost: abort every upload of the writer's key but its own (a name is
 * never reused, so no other writer has one).  Best effort: a failure is
 * logged, and what is left is a stale upload clean aborts. */
struct spare_ctx {
	const char *key, *keep;
	strata_s3_upload *ups;
	size_t n, cap;
};

static int spare_collect(void *ctx, const strata_s3_upload *up)
{
	struct spare_ctx *s = ctx;
	if (strcmp(up->key, s->key) != 0 || strcmp(up->upload_id, s->keep) == 0)
		return 0;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4;
		s->ups = strata_realloc(s->ups, s->cap * sizeof(*s->ups));
	}
	s->ups[s->n++] = *up;
	return 0;
}

static void put_abort_spares(strata_s3_writer *p)
{
	struct spare_ctx s = {.key = p->key, .keep = p->upload_id};
	strata_err err;
	strata_err_clear(&err);
	int rc = strata_s3_uploads_list(p->c, p->bucket, p->key, spare_collect, &s, &err);
	for (size_t i = 0; rc == 0 && i < s.n; i++) {
		rc = strata_s3_upload_abort(p->c, p->bucket, p->key, s.ups[i].upload_id, &err);
		if (rc == 0)
			LOG_INFO("s3 CREATE_MPU s3://%s/%s: aborted the spare upload a retried "
				 "create left",
				 p->bucket, p->key);
	}
	if (rc < 0)
		LOG_WARN("%s (a spare upload of a retried create may stay until a stale-upload "
			 "clean aborts it)",
			 err.msg);
	free(s.ups);
}

/* The buffer as the next part (creating the upload first). */
static int put_flush_part(strata_s3_writer *p, strata_err *err)
{
	strata_s3 *c = p->c;
	int rc;
	if (!p->upload_id[0]) {
		/* a name that exists is refused before anything is uploaded */
		if ((rc = put_check_new(p, err)) < 0)
			return put_poison(p, rc);
		strata_buf reply = {0};
		s3_req r = {.op = "CREATE_MPU", .method = "POST", .bucket = p->bucket,
			    .key = p->key, .query = "uploads=", .body = "", .body_len = 0,
			    .reply = &reply};
		rc = s3_do(c, &r, NULL, err);
		if (rc == 0 && s3_xml_upload_id((const char *)reply.data, reply.len, p->upload_id,
						sizeof(p->upload_id)) < 0)
			rc = strata_err_set(err, STRATA_ECORRUPT,
					    "s3 CREATE_MPU s3://%s/%s: no UploadId in the reply",
					    p->bucket, p->key);
		strata_buf_free(&reply);
		if (rc < 0)
			return put_poison(p, rc);
		if (r.had_transient)
			put_abort_spares(p);
	}
	if (p->nparts >= S3_MAX_PARTS)
		return put_poison(p, strata_err_set(err, STRATA_ELIMIT,
						    "s3 PUT s3://%s/%s: more than %d parts of %llu "
						    "bytes",
						    p->bucket, p->key, S3_MAX_PARTS,
						    (unsigned long long)c->part_bytes));
	int part = p->nparts + 1;
	p->etags = strata_realloc(p->etags, (size_t)part * sizeof(*p->etags));
	p->md5s = strata_realloc(p->md5s, (size_t)part * sizeof(*p->md5s));
	s3_md5 m;
	s3_md5_init(&m);
	s3_md5_update(&m, p->buf, p->len);
	s3_md5_final(&m, p->md5s[part - 1]);
	char md5b64[32], hmd5[64], md5hex[33];
	s3_base64(p->md5s[part - 1], 16, md5b64, sizeof(md5b64));
	s3_md5_hex(p->md5s[part - 1], md5hex);
	snprintf(hmd5, sizeof(hmd5), "Content-MD5: %s", md5b64);
	strata_buf q = {0};
	strata_buf_printf(&q, "partNumber=%d", part);
	q_add(&q, "uploadId", p->upload_id);
	strata_buf_putc(&q, '\0');
	s3_req r = {.op = "UPLOAD_PART", .method = "PUT", .bucket = p->bucket, .key = p->key,
		    .query = (const char *)q.data, .hdrs = {hmd5}, .body = p->buf,
		    .body_len = p->len, .part = part};
	rc = s3_do(c, &r, NULL, err);
	strata_buf_free(&q);
	if (rc < 0)
		return put_poison(p, rc);
	snprintf(p->etags[part - 1], sizeof(p->etags[0]), "%s", r.etag[0] ? r.etag : md5hex);
	p->nparts = part;
	p->len = 0;
	return 0;
}

int strata_s3_writer_write(strata_s3_writer *p, const void *buf, size_t n, strata_err *err)
{
	if (p->is_poisoned)
		return strata_err_set(err, STRATA_EPOISONED,
				      "s3 PUT s3://%s/%s: the upload failed before; only abort is "
				      "allowed",
				      p->bucket, p->key);
	const uint8_t *s = buf;
	while (n > 0) {
		/* a full buffer goes out only when more data follows, so an
		 * object of exactly part_bytes is one PUT */
		if (p->len == p->c->part_bytes) {
			int rc = put_flush_part(p, err);
			if (rc < 0)
				return rc;
		}
		size_t take = STRATA_MIN(n, (size_t)p->c->part_bytes - p->len);
		memcpy(p->buf + p->len, s, take);
		p->len += take;
		p->total += take;
		s += take;
		n -= take;
	}
	return 0;
}

int strata_s3_writer_commit(strata_s3_writer *p, strata_err *err)
{
	strata_s3 *c = p->c;
	strata_buf body = {0}, q = {0}, reply = {0};
	int rc;
	if (p->is_poisoned) {
		rc = strata_err_set(err, STRATA_EPOISONED,
				    "s3 PUT s3://%s/%s: the upload failed before; only abort is "
				    "allowed",
				    p->bucket, p->key);
		goto out;
	}
	if (!p->upload_id[0]) {
		rc = put_single(c, p->bucket, p->key, p->buf, p->len, err);
		goto out;
	}
	if (p->len > 0 && (rc = put_flush_part(p, err)) < 0)
		goto out;
	/* the ETag S3 gives a multipart object: MD5 of the parts' MD5s, -N */
	s3_md5 m;
	uint8_t d[16];
	char want[80], hex[33];
	s3_md5_init(&m);
	for (int i = 0; i < p->nparts; i++)
		s3_md5_update(&m, p->md5s[i], 16);
	s3_md5_final(&m, d);
	s3_md5_hex(d, hex);
	snprintf(want, sizeof(want), "%s-%d", hex, p->nparts);
	strata_buf_printf(&body, "<CompleteMultipartUpload>");
	for (int i = 0; i < p->nparts; i++)
		strata_buf_printf(&body, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>",
				  i + 1, p->etags[i]);
	strata_buf_printf(&body, "</CompleteMultipartUpload>");
	if ((rc = put_check_new(p, err)) < 0)
		goto out;
	q_add(&q, "uploadId", p->upload_id);
	strata_buf_putc(&q, '\0');
	s3_req r = {.op = "COMPLETE_MPU", .method = "POST", .bucket = p->bucket, .key = p->key,
		    .query = (const char *)q.data, .hdrs = {"If-None-Match: *"},
		    .body = body.data, .body_len = body.len, .reply = &reply};
	rc = s3_do(c, &r, NULL, err); /* a 200 with an error in the body: see s3_do */
	if ((rc == STRATA_EEXIST ||
		    (rc == STRATA_ENOTFOUND && strcmp(r.code, "NoSuchUpload") == 0)) &&
		   r.had_transient && s3_is_ours(c, p->bucket, p->key, p->total, want)) {
		LOG_INFO("s3 COMPLETE_MPU s3://%s/%s: HTTP %ld on attempt %d, and the object there "
			 "has our size and ETag: an earlier attempt completed it",
			 p->bucket, p->key, r.status, r.attempts);
		strata_err_clear(err);
		rc = 0;
	}
	if (rc == 0)
		p->upload_id[0] = '\0'; /* completed: nothing to abort */
	else
		put_poison(p, rc);
out:
	if (rc < 0)
		put_poison(p, rc);
	strata_buf_free(&body);
	strata_buf_free(&q);
	strata_buf_free(&reply);
	put_free(p);
	return rc;
}

void strata_s3_writer_abort(strata_s3_writer *p)
{
	if (!p)
		return;
	put_poison(p, 0);
	put_free(p);
}
