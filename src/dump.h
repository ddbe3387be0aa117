/*
 * dump.h - the dump pipeline (dump.c).  Objects include dump-ctx.h.
 */
#ifndef STASIS_DUMP_H
#define STASIS_DUMP_H

#include "dump-ctx.h"

int cr_dump(const struct opts *o);
/*
 * SIGTERM, SIGINT and SIGHUP stop a dump at its next step, which cures
 * the tree (cr_dump sets this up; main does it before the log is opened,
 * so that a signal never finds a started dump without it).
 */
void dump_catch_stop_signals(void);

#endif
