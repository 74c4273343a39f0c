#!/usr/bin/env python3
"""A tiny natsbus app (Python 3 standard library only).

listen:  serve deliveries from the sidecar; print each one (the Natsbus-*
         headers and the body) and answer 200, which acks the message.
           app.py listen [--port 3000] [--name orders]
publish: POST an event to the sidecar; print the sidecar's JSON answer.
           app.py publish [--sidecar http://127.0.0.1:4195] [--subject ticket:created]
                          [--data '{"id":"123","title":"concert","price":20}']
"""
import argparse
import http.server
import sys
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
    return 0


def publish(sidecar, subject, data):
    url = f"{sidecar.rstrip('/')}/v1/publish/{urllib.parse.quote(subject, safe=':')}"
    request = urllib.request.Request(url, data=data.encode("utf-8"), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(response.read().decode("utf-8"), flush=True)
            return 0
    except urllib.error.HTTPError as error:
        print(f"publish to {url} failed: {error.code} {error.read().decode('utf-8', errors='replace')}",
              file=sys.stderr)
    except (urllib.error.URLError, OSError) as error:
        print(f"publish to {url} failed: {error}", file=sys.stderr)
    return 1


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
    args = parser.parse_args(argv)
    if args.mode == "listen":
        return listen(args.port, args.name)
    return publish(args.sidecar, args.subject, args.data)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
