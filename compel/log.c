/*
 * log.c - libcompel reports through the embedding program's callback.
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static compel_log_fn log_fn;
static void *log_arg;
static int log_level = COMPEL_LOG_ERROR;
static enum compel_fault fault;

void compel_set_log(compel_log_fn fn, void *arg, int level)
{
	log_fn = fn;
	log_arg = arg;
	log_level = level;
}

void compel_log(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!log_fn || level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_fn(level, buf, log_arg);
}

void compel_set_fault(enum compel_fault f)
{
	fault = f;
}

bool compel_fault_hit(enum compel_fault f)
{
	if (fault == COMPEL_FAULT_NONE || fault != f)
		return false;
	cpr_err("fault injected at step %d", f);
	return true;
}
