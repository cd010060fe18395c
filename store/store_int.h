/*
 * store/store_int.h — inside store/ only: the pieces of the S3 client that
 * are not requests (store/s3_aux.c): MD5, S3's URI encoding, the XML
 * replies, the shared credentials file, times.
 */
#ifndef STRATA_STORE_INT_H
#define STRATA_STORE_INT_H

#include "store/store.h"

/* ---- MD5 (RFC 1321), for Content-MD5 and for telling our own object by
 * its ETag ---------------------------------------------------------------- */

typedef struct s3_md5 {
	uint32_t h[4];
	uint64_t len;
	uint8_t block[64];
} s3_md5;
void s3_md5_init(s3_md5 *m);
void s3_md5_update(s3_md5 *m, const void *p, size_t n);
void s3_md5_final(s3_md5 *m, uint8_t out[16]);
void s3_md5_hex(const uint8_t d[16], char out[33]);
void s3_base64(const uint8_t *p, size_t n, char *out, size_t cap);

/* ---- encoding ------------------------------------------------------------- */

/* S3's URI encoding of s onto b: A-Z a-z 0-9 - _ . ~ as they are, '/' too
 * when is_path, every other byte as %XX (upper case). */
void s3_uri_encode(strata_buf *b, const char *s, bool is_path);

/* ---- XML replies (libxml2; no network, no entities) ------------------------ */

/* <Error><Code>..</Code><Message>..</Message></Error>: code and message
 * (empty when absent or not XML). */
void s3_xml_error(const char *body, size_t n, char *code, size_t code_n, char *msg,
		  size_t msg_n);
/* ListObjectsV2: fn per <Contents>; *is_truncated and the next token. */
int s3_xml_list(const char *body, size_t n, strata_s3_list_fn fn, void *ctx, bool *is_truncated,
		strata_buf *next_token, int *fn_rc);
/* InitiateMultipartUploadResult: the UploadId. */
int s3_xml_upload_id(const char *body, size_t n, char *out, size_t cap);
/* ListMultipartUploadsResult: fn per <Upload>; the next markers. */
int s3_xml_uploads(const char *body, size_t n, strata_s3_upload_fn fn, void *ctx,
		   bool *is_truncated, strata_buf *next_key, strata_buf *next_id, int *fn_rc);

/* "2026-12-05T05:21:38.198Z" → Unix seconds (0 if not that form). */
int64_t s3_iso8601_s(const char *s);

/* ---- the shared credentials file ------------------------------------------- */

/* The keys of profile in the INI file at path into the three buffers
 * (token empty when the profile has none).  -ENOENT when the file is
 * missing, STRATA_ENOTFOUND when the profile or its two keys are, each with
 * a message naming the file and the profile. */
int s3_creds_file(const char *path, const char *profile, char *access, size_t an, char *secret,
		  size_t sn, char *token, size_t tn, strata_err *err);

/* ---- the shared config file (~/.aws/config) --------------------------------- */

/* What the S3 client takes from one profile of the shared config file. */
typedef struct s3_shared_cfg {
	char region[64];
	char endpoint[1024];    /* the profile's endpoint_url */
	char s3_endpoint[1024]; /* s3 = endpoint_url of its [services NAME] */
	char addressing[16];    /* s3 = addressing_style */
	bool is_ignore_endpoints; /* ignore_configured_endpoint_urls = true */
	bool has_profile;       /* the file has the profile's section */
	int line;               /* where the profile's section starts */
} s3_shared_cfg;

/* Read profile's settings ([default] or [profile NAME]; [profile default]
 * too) from the AWS shared config file at path: top-level keys and one
 * level of nested keys ("s3 =" then indented "addressing_style = path").
 * 0 with *out filled (all empty when the profile is absent); -ENOENT when
 * the file is missing; STRATA_EINVAL "PATH:LINE: ..." for a line that is
 * neither a section, a comment nor key = value, or a bad addressing_style.
 * No message holds a value from the file (it may hold keys). */
int s3_shared_config(const char *path, const char *profile, s3_shared_cfg *out, strata_err *err);

#endif
