#!/usr/bin/python3
# servers.py - the programs of servers.sh other than the servers Debian ships.
#   servers.py http W       an HTTP server (python3's http.server, a thread
#                           per connection, keep-alive): GET /hit counts one
#                           hit and answers "hits N conns C", C being the
#                           connections it accepted; GET /count answers the
#                           same without counting.  It listens on a free
#                           port of 127.0.0.1 and writes it to W/port.
#   servers.py hold PORT W PATH...
#                           a client outside the tree holding one keep-alive
#                           connection to PORT: it GETs each PATH in turn on
#                           that same connection and writes the body of the
#                           answer to W/answer.N; before each request but the
#                           first it waits for W/go.N.  A connection broken
#                           or closed is written as the answer "ERROR why".
import http.server
import os
import socket
import sys
import time


class Counter(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as browsers use it
    hits = 0
    conns = 0

    def setup(self):
        super().setup()
        Counter.conns += 1

    def do_GET(self):
        if self.path == "/hit":
            Counter.hits += 1
        elif self.path != "/count":
            self.send_error(404)
            return
        body = b"hits %d conns %d\n" % (Counter.hits, Counter.conns)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def write_file(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def http_server(w):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counter)
    write_file(w + "/port", "%d\n" % srv.server_address[1])
    srv.serve_forever()


def read_http(s, buf):
    while b"\r\n\r\n" not in buf:
        data = s.recv(4096)
        if not data:
            raise OSError("closed by the server")
        buf += data
    head, _, buf = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buf) < length:
        data = s.recv(4096)
        if not data:
            raise OSError("closed by the server")
        buf += data
    return buf[:length], buf[length:]


def hold(port, w, paths):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(20)
    buf = b""
    for i, path in enumerate(paths):
        if i > 0:
            deadline = time.time() + 60
            while not os.path.exists("%s/go.%d" % (w, i)):
                if time.time() > deadline:
                    return
                time.sleep(0.02)
        try:
            s.sendall(b"GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path.encode())
            answer, buf = read_http(s, buf)
            answer = answer.decode()
        except OSError as e:
            answer = "ERROR %s\n" % e
        write_file("%s/answer.%d" % (w, i), answer)
        if answer.startswith("ERROR"):
            return


if sys.argv[1] == "http":
    http_server(sys.argv[2])
elif sys.argv[1] == "hold":
    hold(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
else:
    sys.exit("usage: servers.py http W | hold PORT W PATH...")
