/*
 * fault.h - STASIS_FAULT=<step> makes that step of a dump or a restore
 * fail, for tests (as CRIU_FAULT does for CRIU).
 */
#ifndef STASIS_FAULT_H
#define STASIS_FAULT_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Is STASIS_FAULT asking @step to fail?  Says so in the log when it is. */
static inline bool fault_at(const char *step)
{
	const char *f = getenv("STASIS_FAULT");

	if (!f || strcmp(f, step))
		return false;
	pr_err("fault injected at step %s (STASIS_FAULT)", step);
	return true;
}

#endif
