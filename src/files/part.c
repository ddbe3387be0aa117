/*
 * files/part.c - a task's fd table as a whole, as a task part: every fd
 * (fd-dump.c, fd-restore.c, through the kinds of kinds.c), fd tables
 * shared by tasks (fdt.c), and the names link remaps opened (linkremap.c).
 */
#include "files/files.h"
#include "parts.h"

/* Which task installs each fd table, and then every task's fds. */
static int files_part_collect(struct rst_ctx *ctx)
{
	return fdt_restore_prepare(ctx) ?: files_restore_read(ctx);
}

static void files_part_cleanup(struct rst_ctx *ctx)
{
	files_restore_cleanup(ctx);
	fdt_restore_cleanup(ctx);
}

const struct task_part_ops files_part = {
	.name = "files",
	.fail = "restore its files",
	.dump_task = files_dump_task,
	.dump_finish = files_dump_finish,
	.dump_undo = files_dump_undo,
	.dump_cleanup = files_dump_cleanup,
	.collect = files_part_collect,
	.prepare = files_restore_prepare,
	.arm = files_restore_arm,
	.finish = linkremap_restore_finish,
	.cleanup = files_part_cleanup,
	.fds = files_restore_task,
};
