/*
 * dump.h - the dump pipeline (dump.c).  Objects include dump-ctx.h.
 */
#ifndef STASIS_DUMP_H
#define STASIS_DUMP_H

#include "dump-ctx.h"

int cr_dump(const struct opts *o);

#endif
