#!/usr/bin/env python3
"""A tiny natsbus app (Python 3 standard library only).

listen:  serve deliveries from the sidecar; print each one (the Natsbus-*
         headers and the body) and answer 200, which acks the message.
           app.py listen [--port 3000] [--name orders]
publish: POST an event to the sidecar; print the sidecar's JSON answer.
           app.py publish [--sidecar http://127.0.0.1:4195] [--subject ticket:created]
                          [--data '{"id":"123","title":"concert","price":20}']
         With --count N: N tickets with ids <prefix>1..<prefix>N, one line each
         ("<id> <status>", status 200 when the bus stored it), at most --rate a second.

SIGTERM (what Kubernetes sends first when it deletes a pod) stops either mode at
once: as a container's PID 1 the default action for SIGTERM does not apply.
"""
import argparse
import http.server
import json
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

TICKET = '{"id":"123","title":"concert","price":20}'


def listen(port, name):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", errors="replace")
            lines = [f"[{name}] received {self.command} {self.path}"]
            for header, value in self.headers.items():
                if header.lower().startswith("natsbus-"):
                    lines.append(f"  {header}: {value}")
            lines.append(f"  body: {body}")
            print("\n".join(lines), flush=True)
            answer = b'{"ok":true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):  # the deliveries above are the log
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"[{name}] listening for deliveries on 127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    print(f"[{name}] stopped", flush=True)
    return 0


def post(sidecar, subject, data):
    """POSTs one event; returns (HTTP status or 0 when unreachable, answer text)."""
    url = f"{sidecar.rstrip('/')}/v1/publish/{urllib.parse.quote(subject, safe=':')}"
    request = urllib.request.Request(url, data=data.encode("utf-8"), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)


def publish(sidecar, subject, data):
    status, answer = post(sidecar, subject, data)
    if status == 200:
        print(answer, flush=True)
        return 0
    print(f"publish to {sidecar} failed: {status} {answer}", file=sys.stderr)
    return 1


def publish_many(sidecar, subject, count, prefix, rate):
    """Publishes `count` tickets; prints "<id> <status>" for each. Exit 0 if all got 200."""
    failed = 0
    for number in range(1, count + 1):
        started = time.monotonic()
        ticket = f"{prefix}{number}"
        status, _ = post(sidecar, subject,
                         json.dumps({"id": ticket, "title": "concert", "price": 20}))
        print(f"{ticket} {status}", flush=True)
        failed += status != 200
        if rate > 0:
            time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - started)))
    return 1 if failed else 0


def stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv):
    parser = argparse.ArgumentParser(description="natsbus sample app")
    modes = parser.add_subparsers(dest="mode", required=True)
    listen_mode = modes.add_parser("listen", help="print deliveries from the sidecar")
    listen_mode.add_argument("--port", type=int, default=3000)
    listen_mode.add_argument("--name", default="app")
    publish_mode = modes.add_parser("publish", help="publish one event through the sidecar")
    publish_mode.add_argument("--sidecar", default="http://127.0.0.1:4195")
    publish_mode.add_argument("--subject", default="ticket:created")
    publish_mode.add_argument("--data", default=TICKET)
    publish_mode.add_argument("--count", type=int, default=0,
                              help="publish this many numbered tickets instead of --data")
    publish_mode.add_argument("--prefix", default="t", help="id prefix of numbered tickets")
    publish_mode.add_argument("--rate", type=float, default=0, help="at most this many a second")
    args = parser.parse_args(argv)
    # Deleting a pod sends SIGTERM: stop now (as on Ctrl-C), not after the grace period.
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    if args.mode == "listen":
        return listen(args.port, args.name)
    try:
        if args.count > 0:
            return publish_many(args.sidecar, args.subject, args.count, args.prefix, args.rate)
        return publish(args.sidecar, args.subject, args.data)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
