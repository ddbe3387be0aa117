#!/usr/bin/env python3
# pspair.py FD A... :: B...: run A and B at once, each with one end of a
# connected stream socket (a unix socketpair) as its fd FD: a page server
# and a dump that talk over a socket given (--ps-socket, RPC ps.fd).
# Waits for both; prints "A rc=N" and "B rc=N"; exits 0 when both did.
# A subreaper (PID 1 here reaps no orphans): what A or B leave running
# (PAGE_SERVER_CHLD's server, once swrk is gone) is waited for too.
# Never for ever: after DEADLINE seconds every process still under us is
# killed and reaped, "timeout" is printed and the exit status is 1.
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

DEADLINE = 90


def start(cmd, end, fd):
    def put():
        os.dup2(end, fd)
    # Only FD goes through exec: every other fd of ours is close-on-exec.
    return subprocess.Popen(cmd, close_fds=False, preexec_fn=put)


def ours():
    """The pids whose parent is us: our children, and orphans given to us."""
    me, found = os.getpid(), []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rindex(')') + 2:].split()[1]) == me:
            found.append(int(name))
    return found


def reap_all(end):
    """Reap every child until none is left or @end passes; True if none is left."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid == 0:
            if time.monotonic() > end:
                return False
            time.sleep(0.05)


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
    end = time.monotonic() + DEADLINE
    rc = {}
    for name, p in (('A', pa), ('B', pb)):
        try:
            rc[name] = p.wait(timeout=max(end - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            rc[name] = None
    timed_out = None in rc.values() or not reap_all(end)
    while timed_out:
        left = ours()
        if not left:
            break
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        reap_all(time.monotonic() + 5)
    if timed_out:
        print("timeout")
    for name in ('A', 'B'):
        print("%s rc=%s" % (name, rc[name] if rc[name] is not None else 'none'))
    return 0 if rc['A'] == 0 and rc['B'] == 0 and not timed_out else 1


sys.exit(main())
