#!/usr/bin/env python3
"""A tiny natsbus app (Python 3 standard library only).

listen:  serve deliveries from the sidecar; print each one (the Natsbus-*
         headers and the body) and answer 200, which acks the message.
           app.py listen [--port 3000] [--name orders]
         A batch (subscription with "batch", header Natsbus-Batch: true) is
         printed one message a line and answered with a SUCCESS status for each
         (SPEC 3.6); with --retry-containing TEXT, messages whose data contains
         TEXT get RETRY instead and come back after ackWait.
publish: POST an event to the sidecar; print the sidecar's JSON answer.
           app.py publish [--sidecar http://127.0.0.1:4195] [--subject ticket:created]
                          [--data '{"id":"123","title":"concert","price":20}']
         With --count N: N tickets with ids <prefix>1..<prefix>N, one line each
         ("<id> <status>", status 200 when the bus stored it), at most --rate a second.
         With --batch B as well: B tickets per request to /v1/publish-batch/<subject>;
         a ticket's status is 200 when its result has a guid, else the error.

Tokens (README "Securing the bus"): with NATSBUS_API_TOKEN set, publish sends it
as Natsbus-Token (the sidecar of a pod annotated natsbus.io/api-token-secret
requires it); with NATSBUS_APP_TOKEN set, listen answers 401 to a delivery that
does not carry it (natsbus.io/app-token-secret makes the sidecar send it). Give
the app the same Secrets as env from secretKeyRef.

SIGTERM (what Kubernetes sends first when it deletes a pod) stops either mode at
once: as a container's PID 1 the default action for SIGTERM does not apply.
"""
import argparse
import base64
import hmac
import http.server
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

TICKET = '{"id":"123","title":"concert","price":20}'


def batch_answer(name, path, raw, retry_containing):
    """Prints a batch's messages; returns the answer: a status for each of them."""
    statuses = []
    lines = [f"[{name}] received batch POST {path}"]
    for message in json.loads(raw)["messages"]:
        data = base64.b64decode(message["data"])
        retry = retry_containing is not None and retry_containing.encode() in data
        status = "RETRY" if retry else "SUCCESS"
        lines.append(f"  #{message['sequence']} {message['subject']} "
                     f"redelivered={str(message['redelivered']).lower()} -> {status}: "
                     f"{data.decode('utf-8', errors='replace')}")
        statuses.append({"sequence": message["sequence"], "status": status})
    print("\n".join(lines), flush=True)
    return json.dumps({"statuses": statuses}).encode("utf-8")


def listen(port, name, app_token, retry_containing=None):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            # Only the sidecar knows the token: refuse anyone else, in constant time.
            if app_token and not hmac.compare_digest(
                    (self.headers.get("Natsbus-Token") or "").encode(), app_token.encode()):
                print(f"[{name}] refused {self.command} {self.path}: no or wrong Natsbus-Token",
                      flush=True)
                self.reply(401, b'{"error":"no or wrong Natsbus-Token"}')
                return
            if self.headers.get("Natsbus-Batch") == "true":
                self.reply(200, batch_answer(name, self.path, raw, retry_containing))
                return
            body = raw.decode("utf-8", errors="replace")
            lines = [f"[{name}] received {self.command} {self.path}"]
            for header, value in self.headers.items():
                if header.lower().startswith("natsbus-"):
                    lines.append(f"  {header}: {value}")
            lines.append(f"  body: {body}")
            print("\n".join(lines), flush=True)
            self.reply(200, b'{"ok":true}')

        def reply(self, status, answer):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):  # the deliveries above are the log
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    checked = " (checking Natsbus-Token)" if app_token else ""
    print(f"[{name}] listening for deliveries on 127.0.0.1:{port}{checked}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    print(f"[{name}] stopped", flush=True)
    return 0


def post(sidecar, subject, data, token, endpoint="publish"):
    """POSTs one event; returns (HTTP status or 0 when unreachable, answer text)."""
    url = f"{sidecar.rstrip('/')}/v1/{endpoint}/{urllib.parse.quote(subject, safe=':')}"
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Natsbus-Token"] = token
    request = urllib.request.Request(url, data=data.encode("utf-8"), method="POST",
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)


def publish(sidecar, subject, data, token):
    status, answer = post(sidecar, subject, data, token)
    if status == 200:
        print(answer, flush=True)
        return 0
    print(f"publish to {sidecar} failed: {status} {answer}", file=sys.stderr)
    return 1


def publish_many(sidecar, subject, count, prefix, rate, token):
    """Publishes `count` tickets; prints "<id> <status>" for each. Exit 0 if all got 200."""
    failed = 0
    for number in range(1, count + 1):
        started = time.monotonic()
        ticket = f"{prefix}{number}"
        status, _ = post(sidecar, subject,
                         json.dumps({"id": ticket, "title": "concert", "price": 20}), token)
        print(f"{ticket} {status}", flush=True)
        failed += status != 200
        if rate > 0:
            time.sleep(max(0.0, 1.0 / rate - (time.monotonic() - started)))
    return 1 if failed else 0


def publish_batches(sidecar, subject, count, prefix, batch, token):
    """Publishes `count` tickets, `batch` per request; prints "<id> <status>" for each."""
    failed = 0
    for first in range(1, count + 1, batch):
        tickets = [f"{prefix}{number}" for number in range(first, min(count, first + batch - 1) + 1)]
        events = [{"text": json.dumps({"id": t, "title": "concert", "price": 20})} for t in tickets]
        status, answer = post(sidecar, subject, json.dumps(events), token, "publish-batch")
        results = json.loads(answer).get("results", []) if status == 200 else []
        for index, ticket in enumerate(tickets):
            outcome = status
            if status == 200:
                result = results[index] if index < len(results) else {"error": "no result"}
                outcome = 200 if "guid" in result else result.get("error")
            print(f"{ticket} {outcome}", flush=True)
            failed += outcome != 200
    return 1 if failed else 0


def stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv):
    parser = argparse.ArgumentParser(description="natsbus sample app")
    modes = parser.add_subparsers(dest="mode", required=True)
    listen_mode = modes.add_parser("listen", help="print deliveries from the sidecar")
    listen_mode.add_argument("--port", type=int, default=3000)
    listen_mode.add_argument("--name", default="app")
    listen_mode.add_argument("--retry-containing", default=None,
                             help="in batches, answer RETRY for messages containing this")
    publish_mode = modes.add_parser("publish", help="publish one event through the sidecar")
    publish_mode.add_argument("--sidecar", default="http://127.0.0.1:4195")
    publish_mode.add_argument("--subject", default="ticket:created")
    publish_mode.add_argument("--data", default=TICKET)
    publish_mode.add_argument("--count", type=int, default=0,
                              help="publish this many numbered tickets instead of --data")
    publish_mode.add_argument("--prefix", default="t", help="id prefix of numbered tickets")
    publish_mode.add_argument("--rate", type=float, default=0, help="at most this many a second")
    publish_mode.add_argument("--batch", type=int, default=0,
                              help="with --count: this many tickets per bulk publish request")
    publish_mode.add_argument("--token", default=os.environ.get("NATSBUS_API_TOKEN", ""),
                              help="the sidecar's API token (default: $NATSBUS_API_TOKEN)")
    args = parser.parse_args(argv)
    # Deleting a pod sends SIGTERM: stop now (as on Ctrl-C), not after the grace period.
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    if args.mode == "listen":
        return listen(args.port, args.name, os.environ.get("NATSBUS_APP_TOKEN", ""),
                      args.retry_containing)
    try:
        if args.count > 0 and args.batch > 0:
            return publish_batches(args.sidecar, args.subject, args.count, args.prefix, args.batch,
                                   args.token)
        if args.count > 0:
            return publish_many(args.sidecar, args.subject, args.count, args.prefix, args.rate,
                                args.token)
        return publish(args.sidecar, args.subject, args.data, args.token)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
