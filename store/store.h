/*
 * store/store.h — the contract of the data-store module: the S3 client,
 * and the S3 data store it registers with core's data-store seam (data
 * files of a warehouse whose data path is s3://BUCKET/PREFIX).
 *
 * Why a folder of its own and not core/: every module includes core.h, and
 * core is the lowest layer; the S3 client brings libcurl and libxml2, which
 * nothing else needs.  This header includes no libcurl or libxml2 type.
 *
 * Where the data-store seam sits (issue 14): in core, under strata_wfile
 * and strata_rfile, as a small table of functions (strata_store_ops,
 * core/core.h "Data stores") keyed by a path's scheme; this module
 * registers the "s3://" entry (store/data.c).  The alternative, the seam
 * here with format/, table/, merge/ and clean/ calling it, would have
 * changed every writer and reader of data files; under wfile/rfile they
 * are unchanged, because every data file of the formats already goes
 * through those two, and a data path is all that says where the bytes
 * live.  What is not a whole-file write or a ranged read (mkdir, stat,
 * unlink, listing a directory) is strata_data_*() in core, which the few
 * callers that touch data directories use.  core includes nothing of
 * store/ (the layering points down): the manifest registers the S3 store
 * when it opens a warehouse whose data path is an s3:// URI.
 *
 * The client speaks S3's REST API, path-style (ENDPOINT/BUCKET/KEY) or
 * virtual-hosted (SCHEME://BUCKET.HOST/KEY), signed with SigV4 by libcurl
 * (CURLOPT_AWS_SIGV4), payloads sent as
 * UNSIGNED-PAYLOAD with a Content-MD5 the server checks.  A handle
 * (strata_s3) holds the resolved configuration and credentials and a
 * connection cache shared by its requests; it is safe to use from several
 * threads at once.  A streamed upload (strata_s3_writer) belongs to one thread
 * at a time.
 *
 * Errors: 0 or a negative code, with the detail in a strata_err naming the
 * operation, s3://BUCKET/KEY, the HTTP status and the server's error code
 * and message, and how many attempts were made.  No message and no log
 * line ever holds the secret key or the session token.
 *   STRATA_ENOTFOUND   404 (NoSuchKey, NoSuchBucket, NoSuchUpload)
 *   STRATA_EEXIST      412 on a PUT with If-None-Match: * (the name exists)
 *   STRATA_EINVAL      bad arguments or configuration, other 4xx
 *   -EACCES            403 (wrong keys, AccessDenied, SignatureDoesNotMatch)
 *   -ETIMEDOUT         no answer within the timeouts (after the retries)
 *   -ECONNREFUSED      nothing listens at the endpoint (after the retries)
 *   -EIO               5xx or another transport failure (after the retries)
 *   STRATA_ECORRUPT    a reply that is not what S3 sends (bad XML, a body
 *                      longer than asked)
 *   STRATA_EPOISONED   a streamed upload used after it failed
 *
 * Retries: on a connection error, a timeout, HTTP 500, 502, 503, 504 or
 * 429, and S3's RequestTimeout; at most max_attempts attempts, the k-th
 * retry after a delay drawn uniformly from [d/2, d], d = min(backoff_max_ms,
 * backoff_base_ms * 2^(k-1)) (exponential back-off with jitter).  Every
 * request this client makes is retried, each for a stated reason (the
 * table s3_retry_rules in store/s3.c):
 *   - idempotent: GET, HEAD, LIST (and of uploads), DELETE, UploadPart
 *     (same number, same bytes), AbortMultipartUpload (NoSuchUpload on a
 *     repeat is success);
 *   - the PUT of a new object: If-None-Match: * makes a repeat land
 *     nothing; a repeat answered 412 is a success when HEAD shows our size
 *     and MD5 ETag (our earlier attempt landed), else STRATA_EEXIST;
 *   - CompleteMultipartUpload: a repeat after a completion that landed is
 *     answered 200, 412 or NoSuchUpload; the last two are told by the same
 *     HEAD (our size and multipart ETag): one object, one success, never a
 *     failure for a write that happened.  A 200 whose body is an <Error>
 *     (S3 starts the answer before the work ends) is a transient failure;
 *   - CreateMultipartUpload: a repeat after a lost answer makes a second
 *     upload; the writer aborts every upload of its key but its own, and
 *     one it cannot see yet is a stale upload that clean aborts;
 *   - CreateBucket: 409 BucketAlreadyOwnedByYou on a repeat is success.
 */
#ifndef STRATA_STORE_H
#define STRATA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

/* Addressing: where the bucket goes in a request's URL. */
typedef enum strata_s3_addressing {
	STRATA_S3_ADDR_DEFAULT = 0, /* the shared config file's, else path */
	STRATA_S3_ADDR_PATH,        /* ENDPOINT/BUCKET/KEY: every server */
	STRATA_S3_ADDR_VIRTUAL,     /* SCHEME://BUCKET.HOST/KEY: AWS, OSS; the
				     * bucket must be a DNS label */
} strata_s3_addressing;

/* Every pointer may be NULL and every number 0: the AWS way fills it in,
 * in the AWS SDKs' order — a setting given here (for stratad, its
 * [daemon] s3.* keys), then the environment, then the shared config file,
 * then the built-in default:
 *   profile      AWS_PROFILE, else "default": the profile of the shared
 *                config file and of the shared credentials file;
 *   config_file  AWS_CONFIG_FILE, else ~/.aws/config (a missing file is
 *                no error; its section [default] or [profile NAME]);
 *   endpoint     AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, then the config
 *                file's [services NAME] `s3 = endpoint_url` (the profile's
 *                `services = NAME`), then the profile's `endpoint_url`,
 *                else https://s3.REGION.amazonaws.com; the environment and
 *                the file are skipped when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
 *                or the profile's ignore_configured_endpoint_urls is true;
 *   region       AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`,
 *                else us-east-1;
 *   addressing   the profile's `s3 = addressing_style` (path, virtual;
 *                auto is path), else path;
 *   credentials  access_key + secret_key (+ session_token) when given; else,
 *                when profile is given, that profile of the shared
 *                credentials file; else AWS_ACCESS_KEY_ID +
 *                AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN); else the
 *                profile AWS_PROFILE (or "default") of the shared
 *                credentials file: credentials_file,
 *                AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials.
 * The strings are copied by strata_s3_open(). */
typedef struct strata_s3_config {
	const char *endpoint;
	const char *region;
	const char *access_key, *secret_key, *session_token;
	const char *profile;
	const char *credentials_file;
	const char *config_file;
	strata_s3_addressing addressing;
	/* what the settings above came from, for messages and
	 * strata_s3_describe() (e.g. "s3.endpoint in /etc/strata/stratad.ini");
	 * NULL: "the s3 configuration" */
	const char *origin;
	/* Objects up to part_bytes go in one PUT; larger ones as a multipart
	 * upload of part_bytes parts (the last one smaller).  Also the memory
	 * a streamed upload holds.  Default 8 MiB; S3 wants at least 5 MiB,
	 * and this client refuses less than STRATA_S3_MIN_PART_BYTES. */
	uint64_t part_bytes;
	int connect_timeout_ms; /* default 5000 */
	/* an attempt that moves fewer than 1 byte/s for this long fails
	 * (default 30; the granularity is a second) */
	int idle_timeout_s;
	int request_timeout_ms; /* one attempt's whole time, default 300000 */
	int max_attempts;       /* default 5 */
	int backoff_base_ms;    /* default 100 */
	int backoff_max_ms;     /* default 5000 */
} strata_s3_config;

#define STRATA_S3_MIN_PART_BYTES (5u << 20)
#define STRATA_S3_DEFAULT_PART_BYTES (8u << 20)

typedef struct strata_s3 strata_s3;

/* Resolve cfg (may be NULL: all from the environment and the shared
 * files) and make a handle; *out is the caller's, freed by
 * strata_s3_close().  STRATA_EINVAL when no credentials are found, a value
 * is out of range, the endpoint is not http(s):// or holds a user name or
 * password, or the shared config file has a bad line (the message names
 * the setting and, for the files, the file, the line or the profile, never
 * a secret).  No request is made. */
int strata_s3_open(const strata_s3_config *cfg, strata_s3 **out, strata_err *err);
void strata_s3_close(strata_s3 *c); /* NULL is a no-op */
/* The resolved endpoint and region (lent for the handle's life). */
const char *strata_s3_endpoint(const strata_s3 *c);
const char *strata_s3_region(const strata_s3 *c);
bool strata_s3_is_virtual(const strata_s3 *c);
/* One line saying where the endpoint, region, addressing and credentials
 * came from, e.g. "endpoint http://rgw:7480 (AWS_ENDPOINT_URL), region
 * us-east-1 (default), path-style (default), credentials from the
 * environment": names and sources only, never a key. */
void strata_s3_describe(const strata_s3 *c, char *out, size_t n);

/* ------------------------------------------------------------------------ */
/* Objects                                                                  */
/* ------------------------------------------------------------------------ */

/* What HEAD and LIST tell of an object. */
typedef struct strata_s3_obj {
	char key[1024];
	uint64_t size;
	char etag[80];  /* without quotes */
	int64_t mtime_s; /* LastModified, Unix seconds (0 if unknown) */
} strata_s3_obj;

/* Create a bucket; one that exists and is ours is fine (0). */
int strata_s3_bucket_create(strata_s3 *c, const char *bucket, strata_err *err);

/* PUT n bytes as a new object: If-None-Match: *, so an existing name is
 * STRATA_EEXIST and is never overwritten.  Objects above part_bytes go as
 * a multipart upload (see strata_s3_writer_open).  A retried attempt that
 * meets 412 asks HEAD whether the object there has our size and our MD5
 * ETag: then an earlier attempt of ours landed and the PUT succeeded;
 * otherwise STRATA_EEXIST. */
int strata_s3_put(strata_s3 *c, const char *bucket, const char *key, const void *buf,
		  size_t n, strata_err *err);

/* Read [off, off + n) of an object into buf; *got is how many bytes came
 * (fewer at the object's end; 0 when off is at or past the end). */
int strata_s3_get_range(strata_s3 *c, const char *bucket, const char *key, uint64_t off,
			size_t n, void *buf, size_t *got, strata_err *err);

/* The last n (> 0) bytes of an object (a suffix range, "Range:
 * bytes=-n") into buf and the object's size from the reply's
 * Content-Range: one request where a HEAD and a ranged GET would be two.
 * *got = min(n, size); an empty object gives 0 and 0.  STRATA_ENOTFOUND
 * if there is none; STRATA_EUNSUPPORTED when the server answers without a
 * usable range (the caller asks HEAD then). */
int strata_s3_get_tail(strata_s3 *c, const char *bucket, const char *key, size_t n, void *buf,
		       size_t *got, uint64_t *size, strata_err *err);

/* Size, ETag and time of an object; STRATA_ENOTFOUND if there is none. */
int strata_s3_head(strata_s3 *c, const char *bucket, const char *key, strata_s3_obj *out,
		   strata_err *err);

/* Delete an object; a missing one is not an error (S3's semantics). */
int strata_s3_delete(strata_s3 *c, const char *bucket, const char *key, strata_err *err);

/* List the objects under prefix (NULL: all) in key order, page_keys a page
 * (ListObjectsV2 max-keys; 0: 1000), following continuation tokens.  fn is
 * called per object with a record lent for the call; a non-zero return
 * stops the listing and is returned.  Memory: one page. */
typedef int (*strata_s3_list_fn)(void *ctx, const strata_s3_obj *obj);
int strata_s3_list(strata_s3 *c, const char *bucket, const char *prefix, int page_keys,
		   strata_s3_list_fn fn, void *ctx, strata_err *err);

/* ------------------------------------------------------------------------ */
/* Streamed uploads                                                         */
/* ------------------------------------------------------------------------ */

/* A new object written in pieces, holding at most part_bytes in memory.
 * While it has no more than part_bytes it is held; on commit it goes as
 * one If-None-Match PUT.  When it grows past part_bytes a multipart upload
 * is created and each full part is uploaded as it fills; commit uploads the
 * last part and completes the upload.  An existing name is refused
 * (STRATA_EEXIST) by a HEAD before the upload is created and again just
 * before it completes, and by If-None-Match: * on the completion where the
 * server honours it (RGW 16 does not: a name that appears within that last
 * round trip could be replaced there; data files never reuse a name).
 *
 * Invariant: a failed part upload or completion poisons the handle (every
 * later call but _abort() gives STRATA_EPOISONED) and aborts the multipart
 * upload, so no upload is left behind by a failure the client saw (a
 * process killed half-way leaves one: strata_s3_uploads_abort_stale()). */
typedef struct strata_s3_writer strata_s3_writer;
int strata_s3_writer_open(strata_s3 *c, const char *bucket, const char *key, strata_s3_writer **out,
		       strata_err *err);
int strata_s3_writer_write(strata_s3_writer *p, const void *buf, size_t n, strata_err *err);
/* Bytes written so far. */
uint64_t strata_s3_writer_offset(const strata_s3_writer *p);
/* Finish the object and free the handle (on failure too, after aborting). */
int strata_s3_writer_commit(strata_s3_writer *p, strata_err *err);
/* Abort the multipart upload, if any, and free.  NULL is a no-op. */
void strata_s3_writer_abort(strata_s3_writer *p);

/* ------------------------------------------------------------------------ */
/* Multipart uploads left behind                                            */
/* ------------------------------------------------------------------------ */

typedef struct strata_s3_upload {
	char key[1024];
	char upload_id[256];
	int64_t initiated_s; /* Unix seconds */
} strata_s3_upload;

/* List the multipart uploads in progress under prefix (NULL: all),
 * following the markers; fn as for strata_s3_list. */
typedef int (*strata_s3_upload_fn)(void *ctx, const strata_s3_upload *up);
int strata_s3_uploads_list(strata_s3 *c, const char *bucket, const char *prefix,
			   strata_s3_upload_fn fn, void *ctx, strata_err *err);
int strata_s3_upload_abort(strata_s3 *c, const char *bucket, const char *key,
			   const char *upload_id, strata_err *err);
/* Abort every upload under prefix initiated at or before now_s - min_age_s;
 * *n_aborted (may be NULL) counts them.  The first failure stops it. */
int strata_s3_uploads_abort_stale(strata_s3 *c, const char *bucket, const char *prefix,
				  int64_t min_age_s, int64_t now_s, int *n_aborted,
				  strata_err *err);

/* ------------------------------------------------------------------------ */
/* Fault injection and counters                                             */
/* ------------------------------------------------------------------------ */

/* One attempt about to be sent, as the fault hook sees it. */
typedef struct strata_s3_req_info {
	const char *op;     /* "GET", "PUT", "HEAD", "DELETE", "LIST", "CREATE_MPU",
			     * "UPLOAD_PART", "COMPLETE_MPU", "ABORT_MPU",
			     * "LIST_MPU", "CREATE_BUCKET" */
	const char *bucket; /* never NULL */
	const char *key;    /* "" when none */
	int part;           /* UPLOAD_PART: the part number, else 0 */
	int attempt;        /* 1 for the first */
} strata_s3_req_info;

/* What the hook wants done with it: delay_ms > 0 sleeps before sending (a
 * slow response); status > 0 does not send it and answers that HTTP status
 * with the S3 error code `code` (e.g. 503 "SlowDown"; 200 with a code: a
 * 200 whose body is that error, as S3 answers a failed completion); is_conn_error does
 * not send it and fails as a refused connection; is_answer_lost sends it
 * and drops the answer, failing the attempt as a reset connection after
 * the server acted on it (a landed write whose success nobody heard). */
typedef struct strata_s3_fault {
	int delay_ms;
	int status;
	char code[64];
	bool is_conn_error;
	bool is_answer_lost;
} strata_s3_fault;

/* Called per attempt, from the requesting thread; fills *out (zeroed
 * before the call). */
typedef void (*strata_s3_fault_fn)(void *ctx, const strata_s3_req_info *req,
				   strata_s3_fault *out);
/* Install a hook for every handle of the process (NULL removes it); for
 * tests, set while no request runs. */
void strata_s3_fault_set(strata_s3_fault_fn fn, void *ctx);

/* Per-process counts of attempts sent (injected answers included) and bytes
 * moved, for benchmarks. */
typedef struct strata_s3_stats {
	uint64_t gets, puts, heads, deletes, lists, posts; /* by HTTP request kind */
	uint64_t retries;    /* attempts after the first */
	uint64_t failures;   /* operations that gave up */
	uint64_t bytes_sent, bytes_received; /* bodies */
} strata_s3_stats;
void strata_s3_stats_get(strata_s3_stats *out);
void strata_s3_stats_reset(void);

/* ------------------------------------------------------------------------ */
/* The S3 data store (store/data.c)                                         */
/* ------------------------------------------------------------------------ */

/* Register the S3 store for data paths "s3://BUCKET/PREFIX/..." with core's
 * data-store seam (core/core.h, "Data stores"), so that strata_wfile,
 * strata_rfile and strata_data_* reach object storage for them.
 * Idempotent and thread-safe; the manifest calls it when it opens a
 * warehouse whose data path is an s3:// URI.  The client is opened at the
 * first use, from the environment (strata_s3_open(NULL, ...)): a missing
 * credential is then that operation's error. */
void strata_store_s3_register(void);
/* Close the process's client (the next use opens one again) and empty the
 * tail cache; for tests, while no data file is open. */
void strata_store_s3_reset(void);
/* The configuration the data store's client is opened with from now on
 * (copied; NULL: all from the environment, the default), e.g. shorter
 * timeouts; closes the current client.  While no data file is open. */
void strata_store_s3_configure(const strata_s3_config *cfg);

/* The tail cache: per object its size and its last bytes (a Parquet
 * footer and page index, or a whole small file), process-wide, bounded. */
typedef struct strata_store_cache_stats {
	uint64_t size_hits, size_misses; /* opens without / with a HEAD */
	uint64_t tail_hits;              /* reads served from a cached tail */
	uint64_t tail_fetches;           /* tails fetched (one GET each) */
	uint64_t bytes;                  /* held now */
} strata_store_cache_stats;
void strata_store_s3_cache_stats(strata_store_cache_stats *out);
void strata_store_s3_cache_clear(void);

#endif
