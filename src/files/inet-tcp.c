/*
 * inet-tcp.c - the one place a TCP connection goes through, at dump and
 * at restore, unless --tcp-close drops it.
 *
 * A connection is kept with TCP_REPAIR: sequence numbers, both queues,
 * windows and options, by libsoccr (include/stasis/soccr.h), and needs
 * --tcp-established, as CRIU does.  Until libsoccr is here, both halves
 * refuse it, naming the socket and what would take it.
 */
#include <errno.h>
#include <netinet/tcp.h>

#include "files/inet.h"
#include "log.h"

static const char *tcp_state_name(unsigned int state)
{
	static const char *const names[] = {
		[TCP_ESTABLISHED] = "established", [TCP_SYN_SENT] = "SYN_SENT",
		[TCP_SYN_RECV] = "SYN_RECV", [TCP_FIN_WAIT1] = "FIN_WAIT1",
		[TCP_FIN_WAIT2] = "FIN_WAIT2", [TCP_TIME_WAIT] = "TIME_WAIT",
		[TCP_CLOSE] = "closed", [TCP_CLOSE_WAIT] = "CLOSE_WAIT",
		[TCP_LAST_ACK] = "LAST_ACK", [TCP_LISTEN] = "listening",
		[TCP_CLOSING] = "CLOSING",
	};

	return state < sizeof(names) / sizeof(names[0]) && names[state] ? names[state] : "unknown";
}

int inet_tcp_dump_connection(struct dump_ctx *ctx, const struct file_parms *p, InetSkEntry *ie)
{
	if (!ctx->opts->tcp_established) {
		pr_err("unsupported: pid %d fd %d is a TCP connection (%s, port %u to %u); dump it "
		       "with --tcp-established, or with --tcp-close to restore it closed",
		       p->pid, p->fd, tcp_state_name(ie->state), ie->src_port, ie->dst_port);
		return -ENOTSUP;
	}
	pr_err("unsupported: pid %d fd %d is a TCP connection (%s, port %u to %u): keeping it "
	       "takes libsoccr, not built yet; --tcp-close restores it closed", p->pid, p->fd,
	       tcp_state_name(ie->state), ie->src_port, ie->dst_port);
	return -ENOTSUP;
}

int inet_tcp_restore_connection(struct rst_ctx *ctx, int fd, const InetSkEntry *ie)
{
	(void)fd;
	if (!ctx->opts->tcp_established)
		pr_err("inet socket %u is a TCP connection (%s, port %u to %u): restore it with "
		       "--tcp-established, or with --tcp-close to have it closed", ie->ino,
		       tcp_state_name(ie->state), ie->src_port, ie->dst_port);
	else
		pr_err("inet socket %u is a TCP connection (%s, port %u to %u): making it again "
		       "takes libsoccr, not built yet; --tcp-close restores it closed", ie->ino,
		       tcp_state_name(ie->state), ie->src_port, ie->dst_port);
	return -ENOTSUP;
}
