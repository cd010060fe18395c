#include "tests/util/testutil.h"
#include "tests/util/tu_pg.h"
static void test_up(void) { CU_ASSERT(tu_pg_port() > 0); printf("%s\n", tu_pg_start_or_skip()); }
static void reg(void) { tu_pg_start_or_skip(); CU_pSuite s = CU_add_suite("pgcat", NULL, NULL); TU_ADD(s, test_up); }
TU_MAIN(reg)
