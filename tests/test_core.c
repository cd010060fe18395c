/*
 * tests/test_core.c — errors, names, buffers, the arena, durable files and
 * the fault-injection vtable itself.
 */
#include "tests/util/testutil.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static void test_strerror(void)
{
	CU_ASSERT_STRING_EQUAL(strata_strerror(0), "success");
	CU_ASSERT_STRING_EQUAL(strata_strerror(-ENOSPC), strerror(ENOSPC));
	CU_ASSERT_STRING_EQUAL(strata_strerror(STRATA_ECONFLICT), "conflict");
	CU_ASSERT_STRING_EQUAL(strata_strerror(STRATA_ERETENTION),
			       "outside the retention window");
	for (int c = STRATA_EINVAL; c > STRATA_ELAST; c--)
		CU_ASSERT(strcmp(strata_strerror(c), "unknown strata error") != 0);
	strata_err e;
	CU_ASSERT_EQUAL(strata_err_set(&e, STRATA_EINVAL, "bad %s", "thing"), STRATA_EINVAL);
	CU_ASSERT_STRING_EQUAL(e.msg, "bad thing");
	strata_err_wrap(&e, STRATA_EINVAL, "while %s", "testing");
	CU_ASSERT_STRING_EQUAL(e.msg, "while testing: bad thing");
}

static void test_names(void)
{
	strata_err e;
	CU_ASSERT_EQUAL(strata_name_check("orders_2024", "table name", &e), 0);
	CU_ASSERT_EQUAL(strata_name_check("Orders", "table name", &e), STRATA_EINVAL);
	CU_ASSERT(strstr(e.msg, "table name \"Orders\"") != NULL);
	CU_ASSERT_EQUAL(strata_name_check("../etc", "table name", &e), STRATA_EINVAL);
	CU_ASSERT_EQUAL(strata_name_check("", "table name", &e), STRATA_EINVAL);
	CU_ASSERT_EQUAL(strata_name_check("a-b", "column name", &e), STRATA_EINVAL);
	char longname[80];
	memset(longname, 'a', 64);
	longname[64] = 0;
	CU_ASSERT_EQUAL(strata_name_check(longname, "table name", &e), STRATA_EINVAL);
	longname[63] = 0;
	CU_ASSERT_EQUAL(strata_name_check(longname, "table name", &e), 0);
}

static void test_buf_arena(void)
{
	strata_buf b = {0};
	for (int i = 0; i < 1000; i++)
		strata_buf_printf(&b, "%d,", i);
	CU_ASSERT(b.len > 3000);
	CU_ASSERT(memcmp(b.data, "0,1,2,", 6) == 0);
	strata_buf_free(&b);
	strata_arena *a = strata_arena_new();
	char *big = strata_arena_alloc(a, 1 << 20);
	memset(big, 1, 1 << 20);
	char *s = strata_arena_strdup(a, "hello");
	CU_ASSERT_STRING_EQUAL(s, "hello");
	CU_ASSERT_EQUAL(((uintptr_t)strata_arena_alloc(a, 3)) % 8, 0);
	/* rewind keeps standard chunks for reuse, gives back big blocks */
	char *small[40];
	for (int i = 0; i < 40; i++) {
		small[i] = strata_arena_alloc(a, 4000);
		memset(small[i], i, 4000);
	}
	strata_arena_rewind(a);
	CU_ASSERT_EQUAL(strata_arena_bytes(a), 0);
	for (int i = 0; i < 40; i++) {
		char *p = strata_arena_alloc(a, 4000);
		memset(p, 0x5a, 4000);
		CU_ASSERT_EQUAL(((uintptr_t)p) % 8, 0);
	}
	CU_ASSERT(strata_arena_bytes(a) >= 40 * 4000);
	strata_arena_rewind(a);
	CU_ASSERT_STRING_EQUAL(strata_arena_strdup(a, "again"), "again");
	strata_arena_free(a); /* spare chunks too (ASan: no leak) */
}

static void test_wfile_commit(void)
{
	const char *dir = tu_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/f.dat", dir);
	strata_wfile *f;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wfile_open(path, &f, &e), 0);
	char block[100000];
	memset(block, 'x', sizeof(block));
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(strata_wfile_write(f, block, sizeof(block), &e), 0);
	CU_ASSERT_EQUAL(strata_wfile_offset(f), 1000000);
	CU_ASSERT_EQUAL(access(path, F_OK), -1); /* not visible before commit */
	CU_ASSERT_EQUAL(strata_wfile_commit(f, &e), 0);
	size_t len = 0;
	char *data = tu_read_file(path, &len);
	CU_ASSERT_EQUAL(len, 1000000);
	free(data);
	CU_ASSERT_EQUAL(tu_count_files(dir, NULL), 1);
}

/* Early writeback: a wfile asks the kernel to write back each stretch of
 * STRATA_WFILE_WRITEBACK_BYTES as it goes (contiguous ranges, never past
 * what it wrote), and a writeback that fails changes nothing: the hint's
 * result is ignored and the commit's fsync decides. */
static struct {
	int calls;
	off_t next, end;
	bool is_gap;
	int fail;
} wb;

static int wb_record(int fd, off_t off, off_t n)
{
	(void)fd;
	wb.calls++;
	if (off != wb.next || n <= 0)
		wb.is_gap = true;
	wb.next = off + n;
	wb.end = off + n;
	return wb.fail;
}

static void test_wfile_writeback(void)
{
	strata_io_ops rec = strata_io_system;
	rec.writeback = wb_record;
	for (int fail = 0; fail <= 1; fail++) {
		memset(&wb, 0, sizeof(wb));
		wb.fail = fail ? -EIO : 0;
		const char *dir = tu_tmpdir();
		char path[512];
		snprintf(path, sizeof(path), "%s/f.dat", dir);
		const strata_io_ops *prev = strata_io_set(&rec);
		strata_wfile *f;
		strata_err e;
		CU_ASSERT_EQUAL_FATAL(strata_wfile_open(path, &f, &e), 0);
		static char block[300000];
		memset(block, 'y', sizeof(block));
		for (int i = 0; i < 20; i++) /* 6 MB in 300 KB writes: flushes of the buffer */
			CU_ASSERT_EQUAL(strata_wfile_write(f, block, 70000, &e), 0);
		for (int i = 0; i < 5; i++) /* writes past the buffer go straight through */
			CU_ASSERT_EQUAL(strata_wfile_write(f, block, sizeof(block), &e), 0);
		uint64_t total = strata_wfile_offset(f);
		CU_ASSERT(wb.calls >= (int)(total / STRATA_WFILE_WRITEBACK_BYTES) - 1);
		CU_ASSERT(wb.calls <= (int)(total / STRATA_WFILE_WRITEBACK_BYTES));
		CU_ASSERT_FALSE(wb.is_gap);
		CU_ASSERT((uint64_t)wb.end <= total);
		CU_ASSERT_EQUAL(strata_wfile_commit(f, &e), 0);
		strata_io_set(prev);
		size_t len = 0;
		char *data = tu_read_file(path, &len);
		CU_ASSERT_EQUAL(len, total);
		free(data);
	}
	/* a table without the hint (tests' own vtables) still writes */
	strata_io_ops none = strata_io_system;
	none.writeback = NULL;
	const strata_io_ops *prev = strata_io_set(&none);
	char path[512];
	snprintf(path, sizeof(path), "%s/g.dat", tu_tmpdir());
	strata_wfile *f;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wfile_open(path, &f, &e), 0);
	static char big[3 << 20];
	CU_ASSERT_EQUAL(strata_wfile_write(f, big, sizeof(big), &e), 0);
	CU_ASSERT_EQUAL(strata_wfile_commit(f, &e), 0);
	strata_io_set(prev);
}

/* Every failure point of a durable write leaves no file behind and gives the
 * errno; a failed fsync poisons (no retry). */
static void test_wfile_faults(void)
{
	const tu_op ops[] = {TU_OP_OPEN, TU_OP_PWRITE, TU_OP_FSYNC, TU_OP_CLOSE, TU_OP_RENAME};
	for (size_t i = 0; i < STRATA_ARRAY_LEN(ops); i++) {
		const char *dir = tu_tmpdir();
		char path[512];
		snprintf(path, sizeof(path), "%s/f.dat", dir);
		tu_fault_arm(ops[i], 1, ops[i] == TU_OP_PWRITE ? ENOSPC : EIO, false);
		strata_wfile *f = NULL;
		strata_err e;
		strata_err_clear(&e);
		int rc = strata_wfile_open(path, &f, &e);
		if (rc == 0) {
			char block[1000] = {0};
			rc = strata_wfile_write(f, block, sizeof(block), &e);
			if (rc == 0)
				rc = strata_wfile_commit(f, &e);
			else
				strata_wfile_abort(f);
		}
		tu_fault_disarm();
		CU_ASSERT(tu_fault_fired());
		CU_ASSERT(rc < 0);
		CU_ASSERT(strstr(e.msg, "f.dat") != NULL);
		CU_ASSERT_EQUAL(tu_count_files(dir, NULL), 0);
		if (ops[i] == TU_OP_FSYNC)
			CU_ASSERT_EQUAL(tu_fault_calls(TU_OP_FSYNC), 1); /* never retried */
	}
}

static void test_wfile_short_write(void)
{
	const char *dir = tu_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/s.dat", dir);
	tu_fault_arm(TU_OP_PWRITE, 1, 0, true);
	strata_wfile *f;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_wfile_open(path, &f, &e), 0);
	char block[5000];
	memset(block, 'y', sizeof(block));
	CU_ASSERT_EQUAL(strata_wfile_write(f, block, sizeof(block), &e), 0);
	CU_ASSERT_EQUAL(strata_wfile_commit(f, &e), 0);
	tu_fault_disarm();
	size_t len;
	char *data = tu_read_file(path, &len);
	CU_ASSERT_EQUAL(len, sizeof(block)); /* short write was completed */
	free(data);
}

static void test_rfile_bounds(void)
{
	const char *dir = tu_tmpdir();
	char path[512];
	snprintf(path, sizeof(path), "%s/r.dat", dir);
	tu_write_file(path, "0123456789", 10);
	strata_rfile *f;
	strata_err e;
	CU_ASSERT_EQUAL_FATAL(strata_rfile_open(path, &f, &e), 0);
	char buf[16];
	CU_ASSERT_EQUAL(strata_rfile_read(f, buf, 4, 6, &e), 0);
	CU_ASSERT(memcmp(buf, "6789", 4) == 0);
	CU_ASSERT_EQUAL(strata_rfile_read(f, buf, 5, 6, &e), STRATA_ECORRUPT);
	CU_ASSERT(strstr(e.msg, "past the end") != NULL);
	CU_ASSERT_EQUAL(strata_rfile_read(f, buf, 1, UINT64_MAX, &e), STRATA_ECORRUPT);
	strata_rfile_close(f);
	CU_ASSERT(strata_rfile_open("/nonexistent/x", &f, &e) == -ENOENT);
}

static void test_clock(void)
{
	tu_clock_manual(1000);
	CU_ASSERT_EQUAL(strata_now_us(), 1000);
	tu_clock_advance(500);
	CU_ASSERT_EQUAL(strata_now_us(), 1500);
	tu_clock_real();
	CU_ASSERT(strata_now_us() > 1700000000000000LL);
}

static void register_core(void)
{
	CU_pSuite s = CU_add_suite("core", NULL, NULL);
	TU_ADD(s, test_strerror);
	TU_ADD(s, test_names);
	TU_ADD(s, test_buf_arena);
	TU_ADD(s, test_wfile_commit);
	TU_ADD(s, test_wfile_faults);
	TU_ADD(s, test_wfile_writeback);
	TU_ADD(s, test_wfile_short_write);
	TU_ADD(s, test_rfile_bounds);
	TU_ADD(s, test_clock);
}

TU_MAIN(register_core)
