#!/usr/bin/env python3
"""An SMS gateway for timing the portal: answers 200 to every POST and appends its body
(one JSON object a line) to FILE.

    portal-sms.py PORT FILE
"""
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT, FILE = int(sys.argv[1]), sys.argv[2]


class Gateway(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with open(FILE, "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", PORT), Gateway).serve_forever()
