/*
 * manifest/pg_conn.c — one libpq connection to a PostgreSQL catalog: URIs
 * and their redaction, connecting, transactions, prepared statements and
 * the classification of errors (see pg_int.h for the codes).
 *
 * A catalog is named by a libpq URI, postgresql://user[:password]@host
 * [:port][,host2...]/database[?params].  Credentials and TLS follow libpq
 * (PGPASSWORD, ~/.pgpass, sslmode=), so a password may be inside the URI;
 * that URI is kept only to (re)connect, and everything printed uses the
 * redacted form.
 *
 * Invariants:
 *   1. no message or log line built here holds the password: messages name
 *      the redacted URI, and every message is scrubbed of the password (as
 *      given and percent-decoded, and of $PGPASSWORD) before it is returned,
 *      whatever libpq or the server put into it;
 *   2. mf_pg_commit() returns 0 only for a COMMIT the server acknowledged as
 *      COMMIT without a warning; an answer of failure (or ROLLBACK) is a
 *      clean failure; a connection lost before any answer is
 *      STRATA_EUNCERTAIN, never retried here and never reported as a clean
 *      failure; so is a COMMIT answered with a WARNING (invariant 6);
 *   3. a statement is prepared at most once per connection (bit slot of
 *      `prepared`); a reconnect clears the bits, since the server forgot;
 *   4. a lost connection is re-established only by mf_pg_begin(), between
 *      transactions, so no transaction ever spans two connections;
 *   5. mf_pg_query_many() and mf_pg_commit_many() send their BEGIN
 *      statements, the PREPAREs needed, the statements and COMMIT in one
 *      pipeline, one round trip, and read every answer before returning
 *      (the connection leaves pipeline mode, or is marked broken):
 *      is_in_txn becomes true when the BEGIN ran, false when a COMMIT
 *      answered or the connection went; a statement after a failed one is
 *      never run (the server skips the rest of the pipeline);
 *   6. a WARNING the server sends while it runs our COMMIT (alone, or in a
 *      pipeline that ends with it) is kept (the connection's notice
 *      receiver) and makes the commit uncertain: it is how PostgreSQL says
 *      that the wait for a synchronous standby was cancelled and the
 *      transaction "has already committed locally, but might not have
 *      been replicated to the standby" — acknowledged, it could be lost
 *      with the primary.  Other notices go on to libpq's default receiver
 *      (standard error), as before.
 *
 * Who calls: pg_schema.c (init, migrations, the version check) and pg_kv.c
 * (the seam's transactions), from one thread per mf_pg at a time.
 */
#include "manifest/pg_int.h"

#include <stdlib.h>
#include <string.h>

#define PG_SECRETS_MAX 4
#define PG_SECRET_MIN_LEN 3 /* shorter "secrets" would mangle every message */
#define PG_CONNECT_TIMEOUT_S "10"
#define PG_SERVER_MIN 100000 /* PostgreSQL 10: identity columns, ON CONFLICT */
/* Unix epoch minus PostgreSQL's (2000-01-01), in microseconds */
#define PG_EPOCH_OFFSET_US 946684800000000LL

struct mf_pg {
	PGconn *conn;
	char *uri;            /* as given, may hold the password: connecting only */
	char uri_safe[512];
	char secrets[PG_SECRETS_MAX][256];
	int nsecrets;
	uint64_t prepared[MF_PG_SLOTS / 64]; /* invariant 3 */
	bool is_in_txn;
	bool is_broken;       /* left in a state libpq cannot recover: close it */
	bool is_in_commit;    /* invariant 6 */
	char commit_warning[400];
	PQnoticeReceiver default_notice;
};

/* ---- URIs ------------------------------------------------------------------------ */

bool mf_pg_is_uri(const char *s)
{
	return s && (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0);
}

static bool is_secret_param(const char *p, size_t n)
{
	return (n >= 9 && strncmp(p, "password=", 9) == 0) ||
	       (n >= 12 && strncmp(p, "sslpassword=", 12) == 0);
}

void mf_pg_uri_redact(const char *uri, char *out, size_t n)
{
	if (n == 0)
		return;
	const char *se = strstr(uri, "://");
	if (!se) {
		snprintf(out, n, "%s", strchr(uri, '@') ? "(a catalog URI)" : uri);
		return;
	}
	strata_buf b = {0};
	const char *auth = se + 3;
	const char *auth_end = auth + strcspn(auth, "/?#");
	const char *at = NULL;
	for (const char *p = auth; p < auth_end; p++)
		if (*p == '@')
			at = p;
	strata_buf_append(&b, uri, (size_t)(auth - uri));
	if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		strata_buf_append(&b, auth, (size_t)((colon ? colon : at) - auth));
		auth = at;
	}
	/* host part and path, up to the query */
	const char *q = strchr(auth, '?');
	const char *end = q ? q : auth + strlen(auth);
	strata_buf_append(&b, auth, (size_t)(end - auth));
	if (q) {
		/* the query without password= and sslpassword= */
		const char *p = q + 1;
		bool is_first = true;
		while (*p) {
			size_t len = strcspn(p, "&#");
			if (len > 0 && !is_secret_param(p, len)) {
				strata_buf_putc(&b, is_first ? '?' : '&');
				strata_buf_append(&b, p, len);
				is_first = false;
			}
			p += len;
			if (*p == '#') {
				strata_buf_append(&b, p, strlen(p));
				break;
			}
			if (*p == '&')
				p++;
		}
	}
	strata_buf_putc(&b, '\0');
	snprintf(out, n, "%s", (const char *)b.data);
	strata_buf_free(&b);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void pg_add_secret(mf_pg *pg, const char *p, size_t len)
{
	if (len < PG_SECRET_MIN_LEN || pg->nsecrets + 2 > PG_SECRETS_MAX ||
	    len >= sizeof(pg->secrets[0]))
		return;
	char *raw = pg->secrets[pg->nsecrets++];
	memcpy(raw, p, len);
	raw[len] = '\0';
	/* and percent-decoded, as libpq and the server see it */
	char dec[256];
	size_t k = 0;
	for (size_t i = 0; i < len; i++) {
		int h = i + 2 < len && p[i] == '%' ? hexval(p[i + 1]) : -1;
		int l = h >= 0 ? hexval(p[i + 2]) : -1;
		if (h >= 0 && l >= 0) {
			dec[k++] = (char)(h * 16 + l);
			i += 2;
		} else {
			dec[k++] = p[i];
		}
	}
	dec[k] = '\0';
	if (k >= PG_SECRET_MIN_LEN && strcmp(dec, raw) != 0)
		snprintf(pg->secrets[pg->nsecrets++], sizeof(pg->secrets[0]), "%s", dec);
}

/* The passwords a URI (and the environment) may carry, for scrubbing. */
static void pg_find_secrets(mf_pg *pg, const char *uri)
{
	const char *se = strstr(uri, "://");
	if (se) {
		const char *auth = se + 3;
		const char *auth_end = auth + strcspn(auth, "/?#");
		const char *at = NULL;
		for (const char *p = auth; p < auth_end; p++)
			if (*p == '@')
				at = p;
		const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon)
			pg_add_secret(pg, colon + 1, (size_t)(at - colon - 1));
	}
	for (const char *q = strchr(uri, '?'); q && *q; q += strcspn(q, "&")) {
		q++;
		size_t len = strcspn(q, "&#");
		if (is_secret_param(q, len)) {
			const char *v = strchr(q, '=') + 1;
			pg_add_secret(pg, v, len - (size_t)(v - q));
		}
	}
	const char *env = getenv("PGPASSWORD");
	if (env)
		pg_add_secret(pg, env, strlen(env));
}

/* Invariant 1: replace every secret in s by "***", in place (a secret is
 * at least PG_SECRET_MIN_LEN = 3 bytes, so s never grows). */
static void pg_scrub(const mf_pg *pg, char *s)
{
	for (int i = 0; i < pg->nsecrets; i++) {
		const char *sec = pg->secrets[i];
		size_t sl = strlen(sec);
		char *p = s, *hit;
		while ((hit = strstr(p, sec))) {
			memmove(hit + 3, hit + sl, strlen(hit + sl) + 1);
			memcpy(hit, "***", 3);
			p = hit + 3;
		}
	}
}

/* libpq's multi-line messages as one line. */
static void flatten(const char *in, char *out, size_t n)
{
	size_t k = 0;
	bool is_space = false;
	for (const char *p = in ? in : ""; *p && k + 1 < n; p++) {
		bool ws = *p == '\n' || *p == '\t' || *p == '\r' || *p == ' ';
		if (ws) {
			is_space = k > 0;
			continue;
		}
		if (is_space && k + 2 < n)
			out[k++] = ' ';
		is_space = false;
		out[k++] = *p;
	}
	out[k] = '\0';
}

static int pg_err(mf_pg *pg, strata_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int pg_err(mf_pg *pg, strata_err *err, int code, const char *fmt, ...)
{
	char msg[STRATA_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pg_scrub(pg, msg);
	return strata_err_set(err, code, "catalog %s: %s", pg->uri_safe, msg);
}

/* ---- connections ----------------------------------------------------------------- */

/* Invariant 6: the connection's notice receiver. */
static void pg_notice(void *arg, const PGresult *res)
{
	mf_pg *pg = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (!sev)
		sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
	if (pg->is_in_commit && sev && strcmp(sev, "WARNING") == 0) {
		if (!pg->commit_warning[0]) {
			const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
			const char *d = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
			char raw[800];
			snprintf(raw, sizeof(raw), "%s%s%s", m ? m : "a warning", d ? " " : "",
				 d ? d : "");
			flatten(raw, pg->commit_warning, sizeof(pg->commit_warning));
		}
		return;
	}
	if (pg->default_notice)
		pg->default_notice(NULL, res);
}

static void pg_free(mf_pg *pg)
{
	if (pg->conn)
		PQfinish(pg->conn);
	if (pg->uri) {
		memset(pg->uri, 0, strlen(pg->uri));
		free(pg->uri);
	}
	memset(pg->secrets, 0, sizeof(pg->secrets));
	free(pg);
}

int mf_pg_connect(const char *uri, mf_pg **out, strata_err *err)
{
	*out = NULL;
	int rc = 0;
	char *perr = NULL;
	PQconninfoOption *opts = NULL;
	mf_pg *pg = strata_calloc(1, sizeof(*pg));
	mf_pg_uri_redact(uri, pg->uri_safe, sizeof(pg->uri_safe));
	pg_find_secrets(pg, uri);
	if (!mf_pg_is_uri(uri)) {
		rc = pg_err(pg, err, STRATA_EINVAL,
			    "not a PostgreSQL URI (it must start with postgresql:// or "
			    "postgres://)");
		goto out;
	}
	opts = PQconninfoParse(uri, &perr);
	if (!opts) {
		char m[400];
		flatten(perr ? perr : "out of memory", m, sizeof(m));
		rc = pg_err(pg, err, STRATA_EINVAL, "invalid URI: %s", m);
		goto out;
	}
	pg->uri = strata_strdup(uri);
	/* connect_timeout first: the URI's own (later in the arrays) wins */
	const char *const keys[] = {"connect_timeout", "fallback_application_name", "dbname",
				    NULL};
	const char *const vals[] = {getenv("PGCONNECT_TIMEOUT") ? NULL : PG_CONNECT_TIMEOUT_S,
				    "strata", uri, NULL};
	pg->conn = PQconnectdbParams(keys, vals, 1);
	if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
		char m[400];
		flatten(pg->conn ? PQerrorMessage(pg->conn) : "out of memory", m, sizeof(m));
		rc = pg_err(pg, err, STRATA_EMANIFEST, "could not connect: %s", m);
		goto out;
	}
	if (PQserverVersion(pg->conn) < PG_SERVER_MIN) {
		rc = pg_err(pg, err, STRATA_EUNSUPPORTED,
			    "the server is PostgreSQL %d.%d; strata needs 10 or newer",
			    PQserverVersion(pg->conn) / 10000, PQserverVersion(pg->conn) / 100 % 100);
		goto out;
	}
	/* invariant 6 (libpq keeps it across PQreset) */
	pg->default_notice = PQsetNoticeReceiver(pg->conn, pg_notice, pg);
	LOG_DEBUG("catalog %s: connected (server %d, backend pid %d)", pg->uri_safe,
		  PQserverVersion(pg->conn), PQbackendPID(pg->conn));
out:
	if (opts)
		PQconninfoFree(opts);
	if (perr)
		PQfreemem(perr);
	if (rc) {
		pg_free(pg);
		return rc;
	}
	*out = pg;
	return 0;
}

void mf_pg_close(mf_pg *pg)
{
	if (pg)
		pg_free(pg);
}

bool mf_pg_is_lost(const mf_pg *pg)
{
	return !pg->conn || pg->is_broken || PQstatus(pg->conn) == CONNECTION_BAD;
}

const char *mf_pg_uri_safe(const mf_pg *pg)
{
	return pg->uri_safe;
}

int mf_pg_backend_pid(const mf_pg *pg)
{
	return pg->conn ? PQbackendPID(pg->conn) : 0;
}

/* ---- errors ------------------------------------------------------------------------ */

static bool is_conn_lost(const mf_pg *pg)
{
	return mf_pg_is_lost(pg);
}

static int classify(const char *state)
{
	if (!state)
		return STRATA_EMANIFEST;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0)
		return STRATA_ECONFLICT;
	if (strcmp(state, "23505") == 0)
		return STRATA_EEXIST;
	return STRATA_EMANIFEST;
}

int mf_pg_result_err(mf_pg *pg, const PGresult *res, const char *what, strata_err *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char m[400];
	flatten(primary ? primary : pg->conn ? PQerrorMessage(pg->conn) : "no connection", m,
		sizeof(m));
	if (is_conn_lost(pg)) {
		/* the server rolls back a transaction whose connection is gone */
		pg->is_in_txn = false;
		return pg_err(pg, err, STRATA_EMANIFEST,
			      "%s failed: connection lost (nothing was committed): %s", what, m);
	}
	return pg_err(pg, err, classify(state), "%s failed: %s (SQLSTATE %s)", what, m,
		      state ? state : "none");
}

/* ---- transactions --------------------------------------------------------------------- */

int mf_pg_exec(mf_pg *pg, const char *sql, const char *what, strata_err *err)
{
	PGresult *r = PQexec(pg->conn, sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	int rc = 0;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		rc = mf_pg_result_err(pg, r, what, err);
	PQclear(r);
	return rc;
}

int mf_pg_begin(mf_pg *pg, mf_pg_txn_mode mode, strata_err *err)
{
	if (pg->is_in_txn)
		return pg_err(pg, err, STRATA_EINVAL, "begin: a transaction is already open");
	if (is_conn_lost(pg)) {
		/* invariant 4: between transactions only */
		LOG_WARN("catalog %s: connection lost; reconnecting", pg->uri_safe);
		PQreset(pg->conn);
		memset(pg->prepared, 0, sizeof(pg->prepared)); /* invariant 3 */
		pg->is_broken = false;
		if (PQstatus(pg->conn) != CONNECTION_OK) {
			char m[400];
			flatten(PQerrorMessage(pg->conn), m, sizeof(m));
			return pg_err(pg, err, STRATA_EMANIFEST, "could not reconnect: %s", m);
		}
	}
	const char *sql = mode == MF_PG_TXN_SNAPSHOT ?
				  "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" :
				  "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE";
	int rc = mf_pg_exec(pg, sql, "begin", err);
	if (rc == 0)
		pg->is_in_txn = true;
	return rc;
}

int mf_pg_commit(mf_pg *pg, strata_err *err)
{
	if (!pg->is_in_txn)
		return pg_err(pg, err, STRATA_EINVAL, "commit: no transaction is open");
	pg->is_in_txn = false;
	pg->commit_warning[0] = '\0';
	pg->is_in_commit = true;
	PGresult *r = PQexec(pg->conn, "COMMIT");
	pg->is_in_commit = false;
	int rc = 0;
	if (r && PQresultStatus(r) == PGRES_COMMAND_OK) {
		/* a transaction that had failed answers COMMIT with ROLLBACK */
		if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
			rc = pg_err(pg, err, STRATA_EMANIFEST,
				    "commit: the server rolled the transaction back (a statement in "
				    "it had failed); nothing was committed");
		} else if (pg->commit_warning[0]) {
			/* invariant 6: committed here, maybe not on the standby */
			rc = pg_err(pg, err, STRATA_EUNCERTAIN,
				    "the server answered COMMIT with a warning: the transaction may "
				    "not be on the synchronous standby, and may be lost with this "
				    "server (%s)",
				    pg->commit_warning);
			LOG_ERROR("%s", err ? err->msg : "catalog: commit outcome uncertain");
		}
	} else if (is_conn_lost(pg)) {
		/* invariant 2: no answer, so no knowledge */
		char m[400];
		flatten(PQerrorMessage(pg->conn), m, sizeof(m));
		rc = pg_err(pg, err, STRATA_EUNCERTAIN,
			    "the connection was lost during COMMIT: the transaction may or may "
			    "not have committed (%s)",
			    m);
		LOG_ERROR("%s", err ? err->msg : "catalog: commit outcome uncertain");
	} else {
		rc = mf_pg_result_err(pg, r, "commit (nothing was committed)", err);
	}
	PQclear(r);
	return rc;
}

void mf_pg_rollback(mf_pg *pg)
{
	if (!pg->is_in_txn)
		return;
	pg->is_in_txn = false;
	if (is_conn_lost(pg))
		return;
	PGresult *r = PQexec(pg->conn, "ROLLBACK");
	PQclear(r);
}

/* ---- prepared statements ------------------------------------------------------------------ */

static void param_push(mf_pg_params *p, const char *v, int len, int fmt)
{
	if (p->n >= MF_PG_PARAMS_MAX)
		abort(); /* a statement table bug, not an input */
	p->val[p->n] = v;
	p->len[p->n] = len;
	p->fmt[p->n] = fmt;
	p->n++;
}

void mf_pg_param_i64(mf_pg_params *p, int64_t v)
{
	if (p->n >= MF_PG_PARAMS_MAX)
		abort();
	snprintf(p->text[p->n], sizeof(p->text[0]), "%lld", (long long)v);
	param_push(p, p->text[p->n], 0, 0);
}

void mf_pg_param_str(mf_pg_params *p, const char *s)
{
	param_push(p, s, 0, 0);
}

void mf_pg_param_bytes(mf_pg_params *p, const void *b, size_t n)
{
	param_push(p, b ? b : "", (int)n, 1);
}

static void copy_state(const PGresult *r, char *state)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (state)
		snprintf(state, 6, "%s", st ? st : "");
}

static bool is_prepared(const mf_pg *pg, unsigned slot)
{
	return pg->prepared[slot / 64] & (1ull << (slot % 64));
}

static void set_prepared(mf_pg *pg, unsigned slot)
{
	pg->prepared[slot / 64] |= 1ull << (slot % 64);
}

static bool is_ok(const PGresult *r)
{
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
}

/* One statement, no BEGIN: PREPARE at its first use, then EXECUTE. */
static int query_plain(mf_pg *pg, const mf_pg_stmt *s, const mf_pg_params *p,
		       PGresult **out, char *state, strata_err *err)
{
	PGresult *r = NULL;
	int rc = 0;
	if (!is_prepared(pg, s->slot)) {
		r = PQprepare(pg->conn, s->name, s->sql, s->nparams, NULL);
		if (!is_ok(r)) {
			copy_state(r, state);
			rc = mf_pg_result_err(pg, r, s->what, err);
			goto out;
		}
		PQclear(r);
		set_prepared(pg, s->slot);
	}
	r = PQexecPrepared(pg->conn, s->name, p ? p->n : 0, p ? p->val : NULL,
			   p ? p->len : NULL, p ? p->fmt : NULL, 1);
	if (!is_ok(r)) {
		copy_state(r, state);
		rc = mf_pg_result_err(pg, r, s->what, err);
		goto out;
	}
	*out = r;
	r = NULL;
out:
	PQclear(r);
	return rc;
}

/* What one message of a pipeline was. */
typedef enum pipe_kind { PIPE_PRE, PIPE_PREPARE, PIPE_STMT, PIPE_COMMIT } pipe_kind;

typedef struct pipe_ent {
	pipe_kind kind;
	int i; /* into s[] for PIPE_PREPARE and PIPE_STMT */
	const char *what;
	PGresult *res;
} pipe_ent;

/* Invariant 5: pre[] (BEGIN ...), s[0..n-1] (each PREPAREd first if this
 * connection has not seen it), then COMMIT when is_commit: one pipeline,
 * one round trip.  *out (if not NULL) receives the last statement's rows.
 *
 * Outcomes, by the first message without a good answer (the server runs
 * the messages in order, answers in order, and after an error runs nothing
 * more of the pipeline; a FATAL ends the session):
 *   - a server error before COMMIT: a clean failure with its code (COMMIT
 *     was never run);
 *   - a server error at COMMIT with the session still up (40001 at commit,
 *     a deferred constraint): a clean failure;
 *   - a server error at COMMIT that ended the session, or no answer (or
 *     libpq's own error: the connection went) after COMMIT was sent:
 *     STRATA_EUNCERTAIN (invariant 2);
 *   - no answer without COMMIT: a clean failure, connection lost. */
static int pg_pipeline(mf_pg *pg, const char *const *pre, const mf_pg_stmt *const *s,
		       const mf_pg_params *p, int n, bool is_commit, PGresult **out,
		       char *state, strata_err *err)
{
	PGconn *c = pg->conn;
	int npre = 0, nq = 0, got = 0, rc = 0;
	while (pre && pre[npre])
		if (++npre > MF_PG_PRE_MAX)
			abort(); /* a statement table bug, not an input */
	pipe_ent *q = strata_calloc((size_t)(npre + 2 * n + 1), sizeof(*q));
	uint64_t queued[MF_PG_SLOTS / 64] = {0}; /* PREPAREs in this pipeline */
	bool is_sent = PQenterPipelineMode(c) == 1, is_commit_sent = false;
	for (int i = 0; i < npre && is_sent; i++) {
		is_sent = PQsendQueryParams(c, pre[i], 0, NULL, NULL, NULL, NULL, 0);
		q[nq++] = (pipe_ent){.kind = PIPE_PRE, .what = "begin"};
	}
	for (int i = 0; i < n && is_sent; i++) {
		unsigned slot = s[i]->slot;
		if (slot >= MF_PG_SLOTS)
			abort();
		if (!is_prepared(pg, slot) && !(queued[slot / 64] & (1ull << (slot % 64)))) {
			queued[slot / 64] |= 1ull << (slot % 64);
			is_sent = PQsendPrepare(c, s[i]->name, s[i]->sql, s[i]->nparams, NULL);
			q[nq++] = (pipe_ent){.kind = PIPE_PREPARE, .i = i, .what = s[i]->what};
		}
		const mf_pg_params *pi = &p[i];
		is_sent = is_sent && PQsendQueryPrepared(c, s[i]->name, pi->n, pi->val, pi->len,
							 pi->fmt, 1);
		q[nq++] = (pipe_ent){.kind = PIPE_STMT, .i = i, .what = s[i]->what};
	}
	if (is_commit && is_sent) {
		/* from here the server may commit: a lost answer is uncertain */
		is_commit_sent = PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
		is_sent = is_commit_sent;
		q[nq++] = (pipe_ent){.kind = PIPE_COMMIT, .what = "commit"};
	}
	is_sent = is_sent && PQpipelineSync(c);
	/* invariant 6: a warning while the server runs the COMMIT */
	pg->commit_warning[0] = '\0';
	pg->is_in_commit = is_commit_sent;
	/* every message answers with one result and a NULL; the sync ends it
	 * all (a lost connection ends it early) */
	for (int nulls = 0; is_sent;) {
		PGresult *r = PQgetResult(c);
		if (!r) {
			if (mf_pg_is_lost(pg) || ++nulls >= 2)
				break;
			continue;
		}
		nulls = 0;
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (got < nq)
			q[got++].res = r;
		else
			PQclear(r);
	}
	int failed = -1, missing = -1;
	for (int i = 0; i < nq; i++) {
		PGresult *r = q[i].res;
		if (!r) {
			missing = i;
			break;
		}
		if (PQresultStatus(r) == PGRES_PIPELINE_ABORTED)
			continue; /* after the failure below */
		if (!is_ok(r) && !PQresultErrorField(r, PG_DIAG_SQLSTATE)) {
			/* libpq's own (the connection went): the server may have
			 * run this and more, COMMIT included */
			missing = i;
			break;
		}
		if (!is_ok(r)) {
			/* the server's answer: it ran nothing after this one */
			if (failed < 0)
				failed = i;
			continue;
		}
		if (q[i].kind == PIPE_PREPARE)
			set_prepared(pg, s[q[i].i]->slot);
	}
	pg->is_in_commit = false;
	bool is_lost = mf_pg_is_lost(pg);
	/* the transaction is open after a BEGIN that ran, until a COMMIT that
	 * answered or a lost connection */
	if (npre && q[0].res && is_ok(q[0].res))
		pg->is_in_txn = true;
	if (is_commit && q[nq - 1].res && PQresultStatus(q[nq - 1].res) != PGRES_PIPELINE_ABORTED)
		pg->is_in_txn = false;
	if (failed >= 0 && q[failed].kind == PIPE_COMMIT && is_lost) {
		/* the server ended the session while it ran COMMIT (e.g. a wait
		 * for a synchronous standby cancelled by a shutdown: "committed
		 * locally"): invariant 2 */
		pg->is_in_txn = false;
		char m[400];
		flatten(PQresultErrorField(q[failed].res, PG_DIAG_MESSAGE_PRIMARY), m, sizeof(m));
		copy_state(q[failed].res, state);
		rc = pg_err(pg, err, STRATA_EUNCERTAIN,
			    "the connection was lost during COMMIT: the transaction may or may "
			    "not have committed (%s)",
			    m);
		LOG_ERROR("%s", err ? err->msg : "catalog: commit outcome uncertain");
	} else if (failed >= 0) {
		copy_state(q[failed].res, state);
		if (q[failed].kind == PIPE_COMMIT) {
			pg->is_in_txn = false;
			rc = mf_pg_result_err(pg, q[failed].res, "commit (nothing was committed)",
					      err);
		} else {
			rc = mf_pg_result_err(pg, q[failed].res, q[failed].what, err);
		}
	} else if (missing >= 0 || !is_sent) {
		pg->is_in_txn = false;
		if (is_commit_sent) {
			char m[400];
			flatten(PQerrorMessage(c), m, sizeof(m));
			rc = pg_err(pg, err, STRATA_EUNCERTAIN,
				    "the connection was lost during COMMIT: the transaction may or "
				    "may not have committed (%s)",
				    m);
			LOG_ERROR("%s", err ? err->msg : "catalog: commit outcome uncertain");
		} else {
			rc = mf_pg_result_err(pg, NULL, q[missing >= 0 ? missing : 0].what, err);
		}
		if (!is_lost)
			pg->is_broken = true; /* unanswered messages: out of step */
	} else if (is_commit && strcmp(PQcmdStatus(q[nq - 1].res), "COMMIT") != 0) {
		rc = pg_err(pg, err, STRATA_EMANIFEST,
			    "commit: the server rolled the transaction back; nothing was "
			    "committed");
	} else if (is_commit && pg->commit_warning[0]) {
		/* invariant 6: committed here, maybe not on the standby */
		rc = pg_err(pg, err, STRATA_EUNCERTAIN,
			    "the server answered COMMIT with a warning: the transaction may not be "
			    "on the synchronous standby, and may be lost with this server (%s)",
			    pg->commit_warning);
		LOG_ERROR("%s", err ? err->msg : "catalog: commit outcome uncertain");
	}
	if (rc == 0 && out && n > 0) {
		for (int i = nq - 1; i >= 0; i--)
			if (q[i].kind == PIPE_STMT) {
				*out = q[i].res;
				q[i].res = NULL;
				break;
			}
	}
	for (int i = 0; i < nq; i++)
		PQclear(q[i].res);
	free(q);
	if (!mf_pg_is_lost(pg) && PQexitPipelineMode(c) != 1) {
		/* results left unread: this connection's state is unknown */
		pg->is_broken = true;
		pg->is_in_txn = false;
		if (rc == 0) {
			if (out) {
				PQclear(*out);
				*out = NULL;
			}
			rc = pg_err(pg, err, is_commit ? STRATA_EUNCERTAIN : STRATA_EMANIFEST,
				    "the connection is out of step after a pipeline%s",
				    is_commit ? ": the transaction may or may not have committed" :
						" (nothing was committed)");
		}
	}
	return rc;
}

int mf_pg_query_many(mf_pg *pg, const char *const *pre, const mf_pg_stmt *const *s,
		     const mf_pg_params *p, int n, PGresult **out, char *state, strata_err *err)
{
	if (out)
		*out = NULL;
	if (state)
		state[0] = '\0';
	if (pre && pre[0] && pg->is_in_txn)
		return pg_err(pg, err, STRATA_EINVAL, "begin: a transaction is already open");
	if (mf_pg_is_lost(pg))
		return mf_pg_result_err(pg, NULL, n ? s[0]->what : "begin", err);
	return pg_pipeline(pg, pre, s, p, n, false, out, state, err);
}

int mf_pg_commit_many(mf_pg *pg, const char *const *pre, const mf_pg_stmt *const *s,
		      const mf_pg_params *p, int n, char *state, strata_err *err)
{
	if (state)
		state[0] = '\0';
	bool is_begin = pre && pre[0];
	if (is_begin && pg->is_in_txn)
		return pg_err(pg, err, STRATA_EINVAL, "begin: a transaction is already open");
	if (!is_begin && !pg->is_in_txn)
		return pg_err(pg, err, STRATA_EINVAL, "commit: no transaction is open");
	if (mf_pg_is_lost(pg)) {
		/* nothing was sent: the server has rolled it back */
		pg->is_in_txn = false;
		return mf_pg_result_err(pg, NULL, "commit (nothing was committed)", err);
	}
	return pg_pipeline(pg, pre, s, p, n, true, NULL, state, err);
}

int mf_pg_query(mf_pg *pg, const mf_pg_stmt *s, const mf_pg_params *p, PGresult **out,
		strata_err *err)
{
	*out = NULL;
	return query_plain(pg, s, p, out, NULL, err);
}

/* ---- binary fields ------------------------------------------------------------------------- */

int64_t mf_pg_get_i64(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return 0;
	const uint8_t *p = (const uint8_t *)PQgetvalue(r, row, col);
	switch (PQgetlength(r, row, col)) {
	case 2:
		return (int16_t)((uint16_t)p[0] << 8 | p[1]);
	case 4:
		return (int32_t)mf_get_u32(p);
	case 8:
		return (int64_t)mf_get_u64(p);
	default:
		return 0;
	}
}

bool mf_pg_get_bool(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetlength(r, row, col) == 1 &&
	       PQgetvalue(r, row, col)[0] != 0;
}

int64_t mf_pg_get_time_us(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return 0;
	return mf_pg_get_i64(r, row, col) + PG_EPOCH_OFFSET_US;
}

const uint8_t *mf_pg_get_bytes(const PGresult *r, int row, int col, size_t *n)
{
	if (PQgetisnull(r, row, col)) {
		*n = 0;
		return NULL;
	}
	*n = (size_t)PQgetlength(r, row, col);
	return (const uint8_t *)PQgetvalue(r, row, col);
}
