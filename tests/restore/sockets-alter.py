#!/usr/bin/env python3
"""sockets-alter.py MODE IMGDIR - break the netlink and packet sockets of a
dump of tests/conformance/packet_sockets or netlink_sockets on purpose, as
a corrupted image would have them (tests/restore/sockets.sh expects each
restore to be refused clearly):

  ifindex     the first packet socket bound to an interface no machine has
  ring        its receive ring's frames larger than its blocks
  ring-shmid  the ring's area names the files.img entry of another socket
  groups      a netlink socket's group bitmap of 100 words
"""
import json
import os
import subprocess
import sys

VMA_AREA_SOCKET = 1 << 11
CRIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/crit")


def decode(path):
    return json.loads(subprocess.check_output([CRIT, "decode", "-i", path]))


def encode(path, img):
    subprocess.run([CRIT, "encode", "-o", path], input=json.dumps(img).encode(), check=True)


def first(files, part):
    for e in files["entries"]:
        if part in e:
            return e
    sys.exit("no %s entry in files.img" % part)


def alter_ring_shmid(d, files):
    pid = decode(os.path.join(d, "pstree.img"))["entries"][0]["pid"]
    mm_path = os.path.join(d, "mm-%d.img" % pid)
    mm = decode(mm_path)
    other = [e["id"] for e in files["entries"] if e.get("psk", {}).get("type") == 2]
    for v in mm["entries"][0]["vmas"]:
        if v["status"] & VMA_AREA_SOCKET:
            v["shmid"] = other[0]
            encode(mm_path, mm)
            return
    sys.exit("no socket area in " + mm_path)


def main():
    mode, d = sys.argv[1], sys.argv[2]
    path = os.path.join(d, "files.img")
    files = decode(path)
    if mode == "ifindex":
        first(files, "psk")["psk"]["ifindex"] = 99999
    elif mode == "ring":
        ring = first(files, "psk")["psk"]["rx_ring"]
        ring["frame_size"] = ring["block_size"] * 2
    elif mode == "ring-shmid":
        alter_ring_shmid(d, files)
        return
    elif mode == "groups":
        first(files, "nlsk")["nlsk"]["groups"] = [1] * 100
    else:
        sys.exit("unknown mode " + mode)
    encode(path, files)


main()
