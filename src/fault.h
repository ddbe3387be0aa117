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

/*
 * Is STASIS_FAULT asking @step to fail?  Says so in the log when it is.
 * "<step>@N" fails the Nth time the step is reached (a dump passes each
 * step once a task): a tree's third task, while another is in flight.
 */
static inline bool fault_at(const char *step)
{
	static int hits;
	const char *f = getenv("STASIS_FAULT");
	size_t n = strlen(step);
	int at;

	if (!f || strncmp(f, step, n) || (f[n] && f[n] != '@'))
		return false;
	at = f[n] ? atoi(f + n + 1) : 1;
	if (++hits < at)
		return false;
	pr_err("fault injected at step %s (STASIS_FAULT)", step);
	return true;
}

#endif
