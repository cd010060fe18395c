/*
 * store/s3_aux.c — the S3 client's pieces that make no request: MD5 and
 * base64 (Content-MD5, and the ETag by which a retried PUT recognises its
 * own object), S3's URI encoding (SigV4 signs the path and query exactly as
 * sent, so they are encoded once, here, the way S3 canonicalises them), the
 * XML replies read with libxml2, ISO 8601 times, the shared credentials
 * file read with inih, and the shared config file (~/.aws/config) read by
 * a small parser of its own (its nested "s3 =" blocks are not INI).
 *
 * Invariants:
 *   1. XML is parsed with XML_PARSE_NONET and without entity substitution:
 *      a reply can make us fetch nothing and expand nothing;
 *   2. the credentials file's values are copied only into the caller's
 *      buffers; no message made here holds a value from it, only the file's
 *      path, the profile and the key names (the same holds for the
 *      shared config file, which may hold keys too).
 *
 * Thread safety: every function is reentrant (libxml2 is initialised once
 * by strata_s3_open()).
 */
#include "store/store_int.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

/* ---- MD5 (RFC 1321) -------------------------------------------------------- */

static const uint32_t md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
	0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
	0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
	0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
	0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
	0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
	0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
	0xeb86d391};
static const uint8_t md5_r[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
				  5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
				  4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
				  6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

static void md5_block(uint32_t h[4], const uint8_t *p)
{
	uint32_t w[16];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
	for (int i = 0; i < 64; i++) {
		uint32_t f;
		int g;
		if (i < 16) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (i < 32) {
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
		}
		uint32_t t = d;
		d = c;
		c = b;
		uint32_t x = a + f + md5_k[i] + w[g];
		b = b + (x << md5_r[i] | x >> (32 - md5_r[i]));
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

void s3_md5_init(s3_md5 *m)
{
	m->h[0] = 0x67452301;
	m->h[1] = 0xefcdab89;
	m->h[2] = 0x98badcfe;
	m->h[3] = 0x10325476;
	m->len = 0;
}

void s3_md5_update(s3_md5 *m, const void *p, size_t n)
{
	const uint8_t *s = p;
	size_t have = (size_t)(m->len % 64);
	m->len += n;
	if (have) {
		size_t take = STRATA_MIN(n, 64 - have);
		memcpy(m->block + have, s, take);
		s += take;
		n -= take;
		if (have + take < 64)
			return;
		md5_block(m->h, m->block);
	}
	for (; n >= 64; s += 64, n -= 64)
		md5_block(m->h, s);
	memcpy(m->block, s, n);
}

void s3_md5_final(s3_md5 *m, uint8_t out[16])
{
	uint64_t bits = m->len * 8;
	uint8_t pad[72] = {0x80};
	size_t have = (size_t)(m->len % 64);
	size_t padn = have < 56 ? 56 - have : 120 - have;
	s3_md5_update(m, pad, padn);
	uint8_t lenb[8];
	for (int i = 0; i < 8; i++)
		lenb[i] = (uint8_t)(bits >> (8 * i));
	s3_md5_update(m, lenb, 8);
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			out[4 * i + j] = (uint8_t)(m->h[i] >> (8 * j));
}

void s3_md5_hex(const uint8_t d[16], char out[33])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[32] = '\0';
}

void s3_base64(const uint8_t *p, size_t n, char *out, size_t cap)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t k = 0;
	for (size_t i = 0; i < n && k + 5 <= cap; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		out[k++] = tab[v >> 18 & 63];
		out[k++] = tab[v >> 12 & 63];
		out[k++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[k++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[k] = '\0';
}

/* ---- encoding ---------------------------------------------------------------- */

void s3_uri_encode(strata_buf *b, const char *s, bool is_path)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~' || (is_path && c == '/')) {
			strata_buf_putc(b, c);
		} else {
			strata_buf_putc(b, '%');
			strata_buf_putc(b, (uint8_t)hex[c >> 4]);
			strata_buf_putc(b, (uint8_t)hex[c & 15]);
		}
	}
}

/* ---- XML ----------------------------------------------------------------------- */

/* invariant 1 */
static xmlDoc *xml_read(const char *body, size_t n)
{
	if (!body || n == 0 || n > INT32_MAX)
		return NULL;
	return xmlReadMemory(body, (int)n, "s3.xml", NULL,
			     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static bool is_elem(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The first child element named name, or NULL. */
static xmlNode *child(const xmlNode *parent, const char *name)
{
	for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
		if (is_elem(c, name))
			return c;
	return NULL;
}

/* The text of the child named name into out ("" if none). */
static void child_text(const xmlNode *parent, const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	xmlNode *c = child(parent, name);
	if (!c)
		return;
	xmlChar *t = xmlNodeGetContent(c);
	if (t) {
		snprintf(out, cap, "%s", (const char *)t);
		xmlFree(t);
	}
}

static void child_buf(const xmlNode *parent, const char *name, strata_buf *b)
{
	strata_buf_reset(b);
	xmlNode *c = child(parent, name);
	xmlChar *t = c ? xmlNodeGetContent(c) : NULL;
	if (t) {
		strata_buf_append(b, t, strlen((const char *)t));
		xmlFree(t);
	}
	strata_buf_putc(b, '\0');
	b->len--;
}

void s3_xml_error(const char *body, size_t n, char *code, size_t code_n, char *msg, size_t msg_n)
{
	code[0] = msg[0] = '\0';
	xmlDoc *doc = xml_read(body, n);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (root && is_elem(root, "Error")) {
		child_text(root, "Code", code, code_n);
		child_text(root, "Message", msg, msg_n);
	}
	xmlFreeDoc(doc);
}

int s3_xml_list(const char *body, size_t n, strata_s3_list_fn fn, void *ctx, bool *is_truncated,
		strata_buf *next_token, int *fn_rc)
{
	*fn_rc = 0;
	xmlDoc *doc = xml_read(body, n);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!root || !is_elem(root, "ListBucketResult")) {
		xmlFreeDoc(doc);
		return STRATA_ECORRUPT;
	}
	char tmp[64];
	child_text(root, "IsTruncated", tmp, sizeof(tmp));
	*is_truncated = strcmp(tmp, "true") == 0;
	child_buf(root, "NextContinuationToken", next_token);
	for (xmlNode *c = root->children; c && *fn_rc == 0; c = c->next) {
		if (!is_elem(c, "Contents"))
			continue;
		strata_s3_obj o = {0};
		child_text(c, "Key", o.key, sizeof(o.key));
		child_text(c, "Size", tmp, sizeof(tmp));
		o.size = strtoull(tmp, NULL, 10);
		char etag[sizeof(o.etag) + 2];
		child_text(c, "ETag", etag, sizeof(etag));
		size_t el = strlen(etag);
		if (el >= 2 && etag[0] == '"' && etag[el - 1] == '"')
			snprintf(o.etag, sizeof(o.etag), "%.*s", (int)(el - 2), etag + 1);
		else
			snprintf(o.etag, sizeof(o.etag), "%s", etag);
		child_text(c, "LastModified", tmp, sizeof(tmp));
		o.mtime_s = s3_iso8601_s(tmp);
		*fn_rc = fn(ctx, &o);
	}
	xmlFreeDoc(doc);
	return 0;
}

int s3_xml_upload_id(const char *body, size_t n, char *out, size_t cap)
{
	xmlDoc *doc = xml_read(body, n);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	out[0] = '\0';
	if (root && is_elem(root, "InitiateMultipartUploadResult"))
		child_text(root, "UploadId", out, cap);
	xmlFreeDoc(doc);
	return out[0] ? 0 : STRATA_ECORRUPT;
}

int s3_xml_uploads(const char *body, size_t n, strata_s3_upload_fn fn, void *ctx,
		   bool *is_truncated, strata_buf *next_key, strata_buf *next_id, int *fn_rc)
{
	*fn_rc = 0;
	xmlDoc *doc = xml_read(body, n);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!root || !is_elem(root, "ListMultipartUploadsResult")) {
		xmlFreeDoc(doc);
		return STRATA_ECORRUPT;
	}
	char tmp[64];
	child_text(root, "IsTruncated", tmp, sizeof(tmp));
	*is_truncated = strcmp(tmp, "true") == 0;
	child_buf(root, "NextKeyMarker", next_key);
	child_buf(root, "NextUploadIdMarker", next_id);
	for (xmlNode *c = root->children; c && *fn_rc == 0; c = c->next) {
		if (!is_elem(c, "Upload"))
			continue;
		strata_s3_upload u = {0};
		child_text(c, "Key", u.key, sizeof(u.key));
		child_text(c, "UploadId", u.upload_id, sizeof(u.upload_id));
		child_text(c, "Initiated", tmp, sizeof(tmp));
		u.initiated_s = s3_iso8601_s(tmp);
		*fn_rc = fn(ctx, &u);
	}
	xmlFreeDoc(doc);
	return 0;
}

int64_t s3_iso8601_s(const char *s)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	return end ? (int64_t)timegm(&tm) : 0;
}

/* ---- the shared credentials file ------------------------------------------------- */

struct creds_ctx {
	const char *profile;
	char *access, *secret, *token;
	size_t an, sn, tn;
	bool has_section;
};

static int creds_entry(void *user, const char *section, const char *name, const char *value)
{
	struct creds_ctx *c = user;
	if (strcmp(section, c->profile) != 0)
		return 1;
	c->has_section = true;
	if (strcmp(name, "aws_access_key_id") == 0)
		snprintf(c->access, c->an, "%s", value);
	else if (strcmp(name, "aws_secret_access_key") == 0)
		snprintf(c->secret, c->sn, "%s", value);
	else if (strcmp(name, "aws_session_token") == 0)
		snprintf(c->token, c->tn, "%s", value);
	return 1;
}

int s3_creds_file(const char *path, const char *profile, char *access, size_t an, char *secret,
		  size_t sn, char *token, size_t tn, strata_err *err)
{
	struct creds_ctx c = {profile, access, secret, token, an, sn, tn, false};
	access[0] = secret[0] = token[0] = '\0';
	int rc = ini_parse(path, creds_entry, &c);
	if (rc == -1)
		return strata_err_set(err, -ENOENT, "could not read the credentials file \"%s\": %s",
				      path, strerror(errno ? errno : ENOENT));
	/* invariant 2: only the path, the line and the profile are named */
	if (rc > 0)
		return strata_err_set(err, STRATA_EINVAL,
				      "%s:%d: not a credentials file line (expected [profile] or "
				      "key = value)",
				      path, rc);
	if (!c.has_section)
		return strata_err_set(err, STRATA_ENOTFOUND,
				      "the credentials file \"%s\" has no profile [%s]", path, profile);
	if (!access[0] || !secret[0])
		return strata_err_set(err, STRATA_ENOTFOUND,
				      "profile [%s] of \"%s\" lacks aws_access_key_id or "
				      "aws_secret_access_key",
				      profile, path);
	return 0;
}

/* ---- the shared config file ------------------------------------------------------ */

/* s without leading and trailing blanks, in place. */
static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
			 s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* "WORD NAME" (any blanks between) → NAME if s starts with word, else NULL. */
static const char *after_word(const char *s, const char *word)
{
	size_t n = strlen(word);
	if (strncmp(s, word, n) != 0 || (s[n] != ' ' && s[n] != '\t'))
		return NULL;
	s += n;
	while (*s == ' ' || *s == '\t')
		s++;
	return *s ? s : NULL;
}

static bool is_true(const char *v)
{
	return strcasecmp(v, "true") == 0;
}

int s3_shared_config(const char *path, const char *profile, s3_shared_cfg *out, strata_err *err)
{
	FILE *f = NULL;
	char *line = NULL, section[256] = "", parent[64] = "", services[256] = "";
	size_t cap = 0;
	int rc = 0, lineno = 0;
	/* every [services NAME] s3 endpoint_url, "NAME\0URL" (the profile may
	 * name its services section after the section) */
	strata_buf svc = {0};
	memset(out, 0, sizeof(*out));
	if (!profile || !*profile)
		profile = "default";
	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		if (rc == -ENOENT)
			goto out;
		rc = strata_err_set(err, STRATA_EINVAL, "could not read the AWS config file \"%s\": %s",
				    path, strata_strerror(rc));
		goto out;
	}
	bool in_profile = false;
	const char *in_services = NULL;
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		bool is_indented = line[0] == ' ' || line[0] == '\t';
		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (!close) {
				rc = strata_err_set(err, STRATA_EINVAL,
						    "%s:%d: a section header without its ']'", path,
						    lineno);
				goto out;
			}
			*close = '\0';
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			parent[0] = '\0';
			const char *pn = after_word(section, "profile");
			in_profile = (pn && strcmp(pn, profile) == 0) ||
				     (strcmp(profile, "default") == 0 && strcmp(section, "default") == 0);
			in_services = after_word(section, "services");
			if (in_profile && !out->has_profile) {
				out->has_profile = true;
				out->line = lineno;
			}
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			/* invariant 2: the line itself is not quoted */
			rc = strata_err_set(err, STRATA_EINVAL,
					    "%s:%d: not a config file line (expected [section], "
					    "key = value or a comment)",
					    path, lineno);
			goto out;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		if (!is_indented || !parent[0]) {
			parent[0] = '\0';
			if (!*val) { /* "s3 =": the indented lines below are its keys */
				snprintf(parent, sizeof(parent), "%s", key);
				continue;
			}
		}
		const char *sub = parent[0] ? key : NULL;
		const char *top = parent[0] ? parent : key;
		if (in_services && sub && strcmp(top, "s3") == 0 &&
		    strcmp(sub, "endpoint_url") == 0) {
			strata_buf_append(&svc, in_services, strlen(in_services) + 1);
			strata_buf_append(&svc, val, strlen(val) + 1);
		}
		if (!in_profile)
			continue;
		if (!sub && strcmp(key, "region") == 0)
			snprintf(out->region, sizeof(out->region), "%s", val);
		else if (!sub && strcmp(key, "endpoint_url") == 0)
			snprintf(out->endpoint, sizeof(out->endpoint), "%s", val);
		else if (!sub && strcmp(key, "services") == 0)
			snprintf(services, sizeof(services), "%s", val);
		else if (!sub && strcmp(key, "ignore_configured_endpoint_urls") == 0)
			out->is_ignore_endpoints = is_true(val);
		else if (sub && strcmp(top, "s3") == 0 && strcmp(sub, "addressing_style") == 0) {
			if (strcmp(val, "path") != 0 && strcmp(val, "virtual") != 0 &&
			    strcmp(val, "auto") != 0) {
				rc = strata_err_set(err, STRATA_EINVAL,
						    "%s:%d: s3 addressing_style must be path, virtual "
						    "or auto",
						    path, lineno);
				goto out;
			}
			snprintf(out->addressing, sizeof(out->addressing), "%s", val);
		}
	}
	for (size_t off = 0; services[0] && off < svc.len;) {
		const char *name = (const char *)svc.data + off;
		const char *url = name + strlen(name) + 1;
		if (strcmp(name, services) == 0)
			snprintf(out->s3_endpoint, sizeof(out->s3_endpoint), "%s", url);
		off = (size_t)(url + strlen(url) + 1 - (const char *)svc.data);
	}
out:
	if (f)
		fclose(f);
	free(line);
	strata_buf_free(&svc);
	if (rc < 0 && rc != -ENOENT)
		memset(out, 0, sizeof(*out));
	return rc;
}
