#!/usr/bin/python3
# apps-asyncio.py W - the asyncio server of apps.sh: one thread, one event
# loop (epoll), a coroutine per connection speaking servers.py's protocol
# (GET /hit counts one hit and answers "hits N conns C", GET /count the
# same without counting, keep-alive), and a periodic task that counts
# ticks (GET /ticks answers "ticks T").  It listens on a free port of
# 127.0.0.1 and writes it to W/port.
import asyncio
import os
import sys

hits = 0
conns = 0
ticks = 0


async def ticker():
    global ticks
    while True:
        await asyncio.sleep(0.01)
        ticks += 1


async def serve(reader, writer):
    global hits, conns
    conns += 1
    while True:
        line = await reader.readline()
        if not line:
            break
        path = line.split()[1] if len(line.split()) > 1 else b""
        while (await reader.readline()) not in (b"\r\n", b"\n", b""):
            pass
        if path == b"/hit":
            hits += 1
        if path == b"/ticks":
            body = b"ticks %d\n" % ticks
        else:
            body = b"hits %d conns %d\n" % (hits, conns)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
    writer.close()


async def main(w):
    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    with open(w + "/port.tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(w + "/port.tmp", w + "/port")
    asyncio.get_running_loop().create_task(ticker())
    async with srv:
        await srv.serve_forever()


asyncio.run(main(sys.argv[1]))
