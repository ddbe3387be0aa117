#!/usr/bin/env python3
# pspair.py FD A... :: B...: run A and B at once, each with one end of a
# connected stream socket (a unix socketpair) as its fd FD: a page server
# and a dump that talk over a socket given (--ps-socket, RPC ps.fd).
# Waits for both; prints "A rc=N" and "B rc=N"; exits 0 when both did.
# A subreaper (PID 1 here reaps no orphans): what A or B leave running
# (PAGE_SERVER_CHLD's server, once swrk is gone) is waited for too.
import ctypes
import os
import socket
import subprocess
import sys


def start(cmd, end, fd):
    def put():
        os.dup2(end, fd)
    # Only FD goes through exec: every other fd of ours is close-on-exec.
    return subprocess.Popen(cmd, close_fds=False, preexec_fn=put)


def main():
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    fd = int(sys.argv[1])
    args = sys.argv[2:]
    cut = args.index('::')
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pa = start(args[:cut], a.fileno(), fd)
    pb = start(args[cut + 1:], b.fileno(), fd)
    a.close()
    b.close()
    ra, rb = pa.wait(), pb.wait()
    try:
        while True:
            os.wait()
    except ChildProcessError:
        pass
    print("A rc=%d" % ra)
    print("B rc=%d" % rb)
    return 0 if ra == 0 and rb == 0 else 1


sys.exit(main())
