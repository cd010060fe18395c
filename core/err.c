/*
 * core/err.c — the one error-code table and the detail buffer.
 *
 * Codes: 0 is success, -errno is a system error (strerror text), and
 * STRATA_E* (all below STRATA_EBASE) are strata's own, each with one static
 * message here.  A function that fails fills a strata_err with the code and a
 * message naming the object and the reason; strata_err_set() returns the
 * code so failure paths stay one line.  Safe from any thread.
 */
#include "core.h"

#include <string.h>

static const char *const strata_messages[] = {
	[0] = "strata error",
	[-(STRATA_EINVAL - STRATA_EBASE)] = "invalid argument",
	[-(STRATA_ECORRUPT - STRATA_EBASE)] = "corrupt data",
	[-(STRATA_ECONFLICT - STRATA_EBASE)] = "conflict",
	[-(STRATA_ENOTFOUND - STRATA_EBASE)] = "not found",
	[-(STRATA_EEXIST - STRATA_EBASE)] = "already exists",
	[-(STRATA_ERETENTION - STRATA_EBASE)] = "outside the retention window",
	[-(STRATA_EUNSUPPORTED - STRATA_EBASE)] = "unsupported",
	[-(STRATA_EPOISONED - STRATA_EBASE)] = "handle unusable after a failed durable write",
	[-(STRATA_EMAPFULL - STRATA_EBASE)] = "manifest map full",
	[-(STRATA_EBUSY - STRATA_EBASE)] = "busy",
	[-(STRATA_ECANCELED - STRATA_EBASE)] = "cancelled",
	[-(STRATA_EMANIFEST - STRATA_EBASE)] = "manifest error",
	[-(STRATA_ELIMIT - STRATA_EBASE)] = "size limit exceeded",
	[-(STRATA_EUNCERTAIN - STRATA_EBASE)] = "commit outcome uncertain",
};

const char *strata_strerror(int code)
{
	if (code == 0)
		return "success";
	if (code < STRATA_EBASE && code > STRATA_ELAST) {
		const char *m = strata_messages[-(code - STRATA_EBASE)];
		return m ? m : "unknown strata error";
	}
	if (code < 0 && code > STRATA_EBASE)
		return strerror(-code);
	return "unknown error";
}

int strata_err_set(strata_err *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		err->code = code;
	}
	return code;
}

int strata_err_wrap(strata_err *err, int code, const char *fmt, ...)
{
	if (!err)
		return code;
	char prefix[STRATA_ERR_MSG_MAX];
	char old[STRATA_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	if (old[0])
		snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	else
		snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix,
			 strata_strerror(code));
	if (err->code == 0)
		err->code = code;
	return err->code;
}

void strata_err_clear(strata_err *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}
