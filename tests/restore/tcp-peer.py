#!/usr/bin/python3
# tcp-peer.py W - both ends of tcp-peer.sh's connection.
#   tcp-peer.py peer W   outside the tree: listens, writes W/port, then sends
#                        numbered lines and checks that every byte comes back
#                        once and in order, until W/stop appears and all is
#                        back; writes PASS or FAIL and why to W/peer-result
#   tcp-peer.py echo PORT  the tree: connects and echoes what it reads
import os
import select
import socket
import sys
import time


def echo(port):
    s = socket.create_connection(("127.0.0.1", port))
    while True:
        data = s.recv(65536)
        if not data:
            return
        s.sendall(data)


def exchange(c, w):
    sent, got, i = b"", b"", 0
    deadline = time.time() + 60
    while time.time() < deadline:
        stop = os.path.exists(w + "/stop")
        if stop and len(got) == len(sent):
            return "PASS", "%d bytes sent, every one back once and in order" % len(sent)
        if not stop:
            line = b"%d\n" % i
            c.sendall(line)
            sent += line
            i += 1
        r, _, _ = select.select([c], [], [], 0.01)
        if r:
            data = c.recv(65536)
            if not data:
                return "FAIL", "the tree closed the connection after %d bytes" % len(got)
            got += data
            if got != sent[: len(got)]:
                return "FAIL", "byte %d came back wrong" % len(os.path.commonprefix([got, sent]))
        with open(w + "/progress", "w") as f:
            f.write("%d\n" % len(got))
    return "FAIL", "%d of %d bytes back after 60 s" % (len(got), len(sent))


def peer(w):
    lsn = socket.socket()
    lsn.bind(("127.0.0.1", 0))
    lsn.listen(1)
    with open(w + "/port.tmp", "w") as f:
        f.write("%d\n" % lsn.getsockname()[1])
    os.rename(w + "/port.tmp", w + "/port")
    c, _ = lsn.accept()
    try:
        res, why = exchange(c, w)
    except OSError as e:
        res, why = "FAIL", "the connection broke: %s" % e
    with open(w + "/peer-result", "w") as f:
        f.write("%s %s\n" % (res, why))


if sys.argv[1] == "peer":
    peer(sys.argv[2])
else:
    echo(int(sys.argv[2]))
