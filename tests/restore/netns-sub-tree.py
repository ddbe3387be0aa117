#!/usr/bin/env python3
# netns-sub-tree.py DIR - the tree netns-sub.sh dumps, started in a net
# namespace of its own (unshare -n): the root holds a tap device's file;
# child A unshares another net namespace and binds two abstract unix
# sockets there ("stasis-sub-a", which it keeps, and "stasis-sub-b", which
# it gives away); A's child B goes back into the root's namespace holding
# "stasis-sub-b", made in A's.  Each writes its pid into DIR (root, a, b)
# once ready, then sleeps until killed.
import ctypes
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454ca
IFF_TAP, IFF_NO_PI = 0x0002, 0x1000
libc = ctypes.CDLL(None, use_errno=True)
d = sys.argv[1]


def ready(name):
    with open(os.path.join(d, name + ".tmp"), "w") as f:
        f.write(str(os.getpid()))
    os.rename(os.path.join(d, name + ".tmp"), os.path.join(d, name))


def check(ret, what):
    if ret != 0:
        e = ctypes.get_errno()
        sys.exit("%s: %s" % (what, os.strerror(e)))


def bound(name):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name)
    return s


def child_b(root_ns, sb):
    check(libc.setns(root_ns, CLONE_NEWNET), "B: setns into the root's")
    os.close(root_ns)
    ready("b")
    while True:
        signal.pause()


def child_a(root_ns):
    check(libc.unshare(CLONE_NEWNET), "A: unshare")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    sa, sb = bound("stasis-sub-a"), bound("stasis-sub-b")
    if os.fork() == 0:
        child_b(root_ns, sb)
    sb.close()
    os.close(root_ns)
    ready("a")
    while True:
        signal.pause()


def main():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    tap = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", b"sttap0", IFF_TAP | IFF_NO_PI))
    root_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
    if os.fork() == 0:
        os.close(tap)
        child_a(root_ns)
    os.close(root_ns)
    ready("root")
    while True:
        signal.pause()


main()
