/*
 * rpc.h - CRIU's RPC (rpc.proto) on a SOCK_SEQPACKET socket: `stasis swrk
 * FD` on a socket the client made, `stasis service` on a listening one.
 */
#ifndef STASIS_RPC_H
#define STASIS_RPC_H

#include <stdbool.h>
#include <sys/types.h>

#include "opts.h"

struct CriuOpts;
struct CriuReq;
struct CriuResp;

/* stasis swrk FD: serve the requests on the inherited socket FD. */
int cr_swrk(const struct opts *o);
/* stasis service --address PATH: one forked worker per client. */
int cr_service(const struct opts *o);

/* rpc-wire.c: one request in (0 or -errno), one answer out with @fd (or -1). */
int rpc_recv_req(int sk, struct CriuReq **req);
int rpc_send_resp(int sk, struct CriuResp *resp, int fd);

/*
 * Tell the client about hook @script (with @pid when > 0 and @fd when
 * >= 0 by SCM_RIGHTS) and wait for its answer: 0 when it said yes.
 */
int rpc_notify(int sk, const char *script, pid_t pid, int fd);
/* Notify @script; the externals the client answers with go into @o. */
int rpc_notify_externals(int sk, const char *script, struct opts *o);

/*
 * The request's options into @o, through the command line's options
 * (rpc-opts.c).  @peer is the client; @swrk: it is our parent, and the
 * fds it names in inherit_fd are ours too.  0, or -errno after logging.
 */
int rpc_opts_apply(struct CriuOpts *req, struct opts *o, pid_t peer, bool swrk);

/* Our own copy of the client's fd @fd (pidfd_getfd), or -errno. */
int rpc_peer_fd(pid_t peer, int fd);

#endif
