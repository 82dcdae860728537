#!/usr/bin/env python3
"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one small GET on each and reads
its response, then holds them all open (idle) until killed or --hold seconds pass.

bench/run uses it for "memory per idle connection": it waits for --ready-file, reads the
proxy's RSS, then terminates this process (the kernel closes the sockets).

  idle-conns.py --port 8080 --conns 2000 --ready-file /tmp/ready [--path /] [--hold 120]

The ready file holds "ok FAILED" where FAILED counts connections whose request did not get a
complete 200 response (bench/run reports it; it must be 0)."""

import argparse
import os
import socket
import sys
import time


def read_response(sock):
    """Reads one HTTP/1.1 response with Content-Length framing; returns the status code."""
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
    return status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--path", default="/")
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--hold", type=float, default=120.0, help="seconds to hold, at most")
    args = ap.parse_args()

    request = (f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n"
               "User-Agent: ferry-bench-idle\r\n\r\n").encode()
    socks, failed = [], 0
    for _ in range(args.conns):
        s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
        try:
            s.sendall(request)
            if read_response(s) != 200:
                failed += 1
        except (OSError, ValueError) as e:
            failed += 1
            print(f"idle-conns: {e}", file=sys.stderr)

    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"ok {failed}\n")
    os.rename(tmp, args.ready_file)

    deadline = time.monotonic() + args.hold
    while time.monotonic() < deadline:
        time.sleep(0.2)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
