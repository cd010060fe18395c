/*
 * table/table_int.h — shared by the files of table/ only.
 */
#ifndef STRATA_TABLE_INT_H
#define STRATA_TABLE_INT_H

#include "table/table.h"
#include "merge/merge.h"

struct strata_wh {
	strata_mf *mf;
	char *path;
};

#endif
