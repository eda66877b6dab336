#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 proxy for strongroom's object-storage tests (stdlib only).

Listens on 127.0.0.1:PORT and forwards each request to --target (Azurite, s3rver, ...). A seeded
random schedule picks, per request and with probability --rate, one fault:

  503            answer 503 (SlowDown / ServerBusy) without forwarding
  500            answer 500 InternalError without forwarding
  drop-request   read the request head, then reset the connection without forwarding
  drop-response  forward, then send half of the answer and reset the connection (the request
                 took effect on the server but the client never learns it)
  stall          forward, send a few bytes of the answer, then go silent for --stall seconds
                 (longer than the client's stall timeout) and close

With --strict-conditional the proxy also enforces "If-None-Match: *" on PUT and on POST
?uploadId= (CompleteMultipartUpload) for servers that ignore it (s3rver): it asks the server with
a HEAD first and answers 412 PreconditionFailed itself when the object exists, the way AWS does.

Each injected fault is appended to --log as "KIND METHOD PATH". Requests go upstream with
"Connection: close" (one upstream connection per request, the answer read to EOF); the client's
connection is kept alive whenever the answer's framing allows it.
"""
import argparse
import random
import socket
import socketserver
import struct
import threading
import time

KINDS = [("503", 30), ("500", 15), ("drop-request", 20), ("drop-response", 20), ("stall", 15)]


class Schedule:
    def __init__(self, seed, rate, log_path):
        self.rng = random.Random(seed)
        self.rate = rate
        self.lock = threading.Lock()
        self.log_path = log_path

    def pick(self):
        with self.lock:
            if self.rng.random() >= self.rate:
                return None
            total = sum(w for _, w in KINDS)
            x = self.rng.uniform(0, total)
            for kind, w in KINDS:
                if x < w:
                    return kind
                x -= w
            return KINDS[-1][0]

    def record(self, kind, method, path):
        if self.log_path:
            with self.lock, open(self.log_path, "a") as f:
                f.write(f"{kind} {method} {path}\n")


def recv_until(sock, buf, marker):
    while marker not in buf:
        data = sock.recv(65536)
        if not data:
            return None, buf
        buf += data
    i = buf.index(marker) + len(marker)
    return buf[:i], buf[i:]


def recv_exact(sock, buf, n):
    while len(buf) < n:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("short body")
        buf += data
    return buf[:n], buf[n:]


def header_value(head_lines, name):
    for line in head_lines[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name:
            return v.strip()
    return None


def read_chunked(sock, buf):
    body = b""
    while True:
        line, buf = recv_until(sock, buf, b"\r\n")
        if line is None:
            raise ConnectionError("short chunked body")
        body += line
        size = int(line.split(b";")[0].strip(), 16)
        if size == 0:
            trailer, buf = recv_until(sock, buf, b"\r\n")
            body += trailer
            while trailer != b"\r\n":
                trailer, buf = recv_until(sock, buf, b"\r\n")
                body += trailer
            return body, buf
        chunk, buf = recv_exact(sock, buf, size + 2)
        body += chunk


def reset(sock):
    # SO_LINGER 0: close with RST, like a connection reset by a middlebox.
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def canned(status, code):
    body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>injected by faultproxy</Message></Error>").encode()
    reason = {503: "Service Unavailable", 500: "Internal Server Error",
              412: "Precondition Failed"}[status]
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
            f"x-ms-error-code: {code}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: keep-alive\r\n\r\n").encode() + body


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        client = self.request
        buf = b""
        try:
            while True:
                head, buf = recv_until(client, buf, b"\r\n\r\n")
                if head is None:
                    return
                lines = head[:-4].split(b"\r\n")
                method, path = lines[0].split(b" ")[:2]
                method, path = method.decode(), path.decode(errors="replace")
                kind = self.server.schedule.pick()
                if kind == "drop-request":
                    self.server.schedule.record(kind, method, path)
                    reset(client)
                    return
                length = header_value(lines, b"content-length")
                if header_value(lines, b"transfer-encoding") == b"chunked":
                    body, buf = read_chunked(client, buf)
                else:
                    body, buf = recv_exact(client, buf, int(length or 0))
                if self.server.strict and self.exists_already(lines, method, path):
                    self.server.schedule.record("precondition", method, path)
                    client.sendall(canned(412, "PreconditionFailed"))
                    continue
                if kind in ("503", "500"):
                    self.server.schedule.record(kind, method, path)
                    client.sendall(canned(int(kind), "ServerBusy" if kind == "503" else
                                          "InternalError"))
                    continue
                answer, keep = self.forward(lines, body, method)
                if kind == "drop-response":
                    self.server.schedule.record(kind, method, path)
                    client.sendall(answer[: len(answer) // 2])
                    reset(client)
                    return
                if kind == "stall":
                    self.server.schedule.record(kind, method, path)
                    client.sendall(answer[:5])
                    time.sleep(self.server.stall)
                    reset(client)
                    return
                client.sendall(answer)
                if not keep:
                    client.close()
                    return
        except (ConnectionError, OSError, ValueError):
            try:
                client.close()
            except OSError:
                pass

    def exists_already(self, lines, method, path):
        if header_value(lines, b"if-none-match") != b"*":
            return False
        if not (method == "PUT" and "partNumber=" not in path or
                method == "POST" and "uploadId=" in path):
            return False
        head = [f"HEAD {path.split('?')[0]} HTTP/1.1".encode()]
        for line in lines[1:]:
            k = line.partition(b":")[0].strip().lower()
            if k not in (b"content-length", b"content-type", b"if-none-match", b"expect",
                         b"transfer-encoding", b"connection"):
                head.append(line)
        answer, _ = self.forward(head, b"", "HEAD")
        return answer.startswith(b"HTTP/1.1 200") or answer.startswith(b"HTTP/1.0 200")

    def forward(self, lines, body, method):
        out = [lines[0]]
        for line in lines[1:]:
            k = line.partition(b":")[0].strip().lower()
            if k not in (b"connection", b"keep-alive", b"proxy-connection"):
                out.append(line)
        out.append(b"Connection: close")
        request = b"\r\n".join(out) + b"\r\n\r\n" + body
        try:
            up = socket.create_connection(self.server.target, timeout=120)
        except OSError:
            msg = b"upstream unreachable"
            return (b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: %d\r\n\r\n" % len(msg)) + msg, True
        with up:
            up.sendall(request)
            answer = b""
            while True:
                data = up.recv(262144)
                if not data:
                    break
                answer += data
        head_end = answer.find(b"\r\n\r\n")
        if head_end < 0:
            raise ConnectionError("upstream answer without a head")
        rlines = answer[:head_end].split(b"\r\n")
        status = int(rlines[0].split(b" ")[1])
        framed = (method == "HEAD" or status in (204, 304) or
                  header_value(rlines, b"content-length") is not None or
                  header_value(rlines, b"transfer-encoding") == b"chunked")
        kept = [rlines[0]]
        for line in rlines[1:]:
            k = line.partition(b":")[0].strip().lower()
            if k not in (b"connection", b"keep-alive"):
                kept.append(line)
        kept.append(b"Connection: keep-alive" if framed else b"Connection: close")
        return b"\r\n".join(kept) + answer[head_end:], framed


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--listen", type=int, required=True, help="loopback port to listen on")
    p.add_argument("--target", required=True, help="HOST:PORT of the real server")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rate", type=float, default=0.15, help="share of requests given a fault")
    p.add_argument("--stall", type=float, default=6.0, help="seconds a stall lasts")
    p.add_argument("--log", default="", help="file receiving one line per injected fault")
    p.add_argument("--strict-conditional", action="store_true",
                   help="enforce If-None-Match: * for servers that ignore it")
    a = p.parse_args()
    host, _, port = a.target.rpartition(":")
    server = Server(("127.0.0.1", a.listen), Handler)
    server.target = (host, int(port))
    server.schedule = Schedule(a.seed, a.rate, a.log)
    server.stall = a.stall
    server.strict = a.strict_conditional
    server.serve_forever()


if __name__ == "__main__":
    main()
