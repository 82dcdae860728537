#!/usr/bin/env python3
"""Small deterministic HTTP/1.1 clients for bench/run and bench/instructions (127.0.0.1 only).

  httpc.py idle --port P --conns 2000 --ready-file F [--path /] [--hold 120]
      Opens CONNS keep-alive connections, sends one GET on each and reads its response, writes
      "ok FAILED" to the ready file (FAILED = requests without a complete 200 response), then
      holds the connections open, idle, until killed or HOLD seconds pass. bench/run reads the
      proxy's RSS meanwhile ("memory per idle connection").

  httpc.py requests --port P --requests 20000 [--conns 4] [--path /]
      Sends exactly REQUESTS GETs, one at a time, round-robin over CONNS keep-alive connections,
      reading each response before the next request. Exits 1 unless every response is a
      complete 200. bench/instructions uses it for a repeatable request count."""

import argparse
import os
import socket
import sys
import time


def read_response(sock):
    """Reads one response framed by Content-Length; returns its status code."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response head")
        data += chunk
        if len(data) > 1 << 20:
            raise ValueError("response head too large")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise ValueError("no Content-Length in the response")
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the response body")
        body += chunk
    if len(body) != length:
        raise ValueError("more bytes than Content-Length (a pipelined response?)")
    return status


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request_bytes(port, path):
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "User-Agent: ferry-bench\r\n\r\n").encode()


def idle(args):
    request = request_bytes(args.port, args.path)
    socks, failed = [], 0
    for _ in range(args.conns):
        s = connect(args.port)
        socks.append(s)
        try:
            s.sendall(request)
            if read_response(s) != 200:
                failed += 1
        except (OSError, ValueError) as e:
            failed += 1
            print(f"httpc idle: {e}", file=sys.stderr)
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"ok {failed}\n")
    os.rename(tmp, args.ready_file)
    deadline = time.monotonic() + args.hold
    while time.monotonic() < deadline:
        time.sleep(0.2)
    for s in socks:
        s.close()
    return 0


def requests(args):
    request = request_bytes(args.port, args.path)
    socks = [connect(args.port) for _ in range(args.conns)]
    bad = 0
    for i in range(args.requests):
        s = socks[i % len(socks)]
        s.sendall(request)
        if read_response(s) != 200:
            bad += 1
    for s in socks:
        s.close()
    print(f"httpc requests: {args.requests} sent on {args.conns} connection(s), {bad} not 200")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("idle")
    a.add_argument("--port", type=int, required=True)
    a.add_argument("--conns", type=int, default=2000)
    a.add_argument("--path", default="/")
    a.add_argument("--ready-file", required=True)
    a.add_argument("--hold", type=float, default=120.0, help="seconds to hold, at most")
    b = sub.add_parser("requests")
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--requests", type=int, default=20000)
    b.add_argument("--conns", type=int, default=4)
    b.add_argument("--path", default="/")
    args = ap.parse_args()
    return idle(args) if args.cmd == "idle" else requests(args)


if __name__ == "__main__":
    sys.exit(main())
