#!/usr/bin/env python3
"""inet-alter.py MODE IMGDIR - break the inet sockets of a dump of
tests/conformance/inet_sockets on purpose, as a corrupted image would have
them (tests/restore/inet.sh expects each restore to be refused clearly):

  addr-len     an IPv6 socket's address given two words, not four
  family       a socket of family 99
  listen-udp   a UDP socket said to be listening
  filter       a socket filter of 5000 instructions
  icmp-filter  the raw socket's ICMP filter given three words
  connection   a TCP socket given a peer: a connection, without --tcp-close
"""
import json
import os
import subprocess
import sys

CRIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/crit")
AF_INET6, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, TCP_LISTEN = 10, 1, 2, 3, 10


def crit(args, data=None):
    return subprocess.run([CRIT] + args, input=data, stdout=subprocess.PIPE, check=True).stdout


def first(img, pred):
    for e in img["entries"]:
        sk = e.get("isk")
        if sk and pred(sk):
            return sk
    sys.exit("inet-alter: no such socket in the images")


def main():
    mode, d = sys.argv[1], sys.argv[2]
    path = os.path.join(d, "files.img")
    img = json.loads(crit(["decode", "-i", path]))
    if mode == "addr-len":
        first(img, lambda s: s["family"] == AF_INET6)["src_addr"] = [0, 1]
    elif mode == "family":
        first(img, lambda s: True)["family"] = 99
    elif mode == "listen-udp":
        first(img, lambda s: s["type"] == SOCK_DGRAM)["state"] = TCP_LISTEN
    elif mode == "filter":
        first(img, lambda s: s["opts"].get("so_filter"))["opts"]["so_filter"] = [6 << 48] * 5000
    elif mode == "icmp-filter":
        sk = first(img, lambda s: s["type"] == SOCK_RAW)
        sk["ip_opts"]["raw"]["icmpv_filter"] = [0, 0, 0]
    elif mode == "connection":
        sk = first(img, lambda s: s["type"] == SOCK_STREAM and s["state"] == TCP_LISTEN)
        sk["state"], sk["dst_port"] = 1, 80
    else:
        sys.exit("inet-alter: unknown mode " + mode)
    crit(["encode", "-o", path], json.dumps(img).encode())


main()
