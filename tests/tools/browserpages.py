#!/usr/bin/env python3
"""Pages for tests/integration/browser.sh, and where they report.

Usage: browserpages.py DIR WSPORT

Serves, on 127.0.0.1 (port printed on the first line of DIR/port):
  /             a page that round-trips details, send and fetch over
                nymd's websocket as JSON text frames
  /sandboxed    a page whose sandboxed iframe (origin "null") tries the
                websocket
  /result?name=N&v=V   stores V in DIR/N (what the pages report)
and writes DIR/file.html, the same attempt from a file:// page.
"""
import http.server
import os
import sys
import urllib.parse

DIR, WSPORT = sys.argv[1], sys.argv[2]

# Reports through an image request: allowed from any page, also from a
# sandboxed frame or a file:// page, whatever CORS says.
REPORT = """
function report(name, v) {
  new Image().src = "http://127.0.0.1:%(hport)s/result?name=" + name +
      "&v=" + encodeURIComponent(v);
}
"""

ROUND_TRIP = """
const ws = new WebSocket("ws://127.0.0.1:%(wsport)s/mix");
const steps = [];
let me = null;
ws.onopen = () => ws.send(JSON.stringify({details: {}}));
ws.onerror = () => report("roundtrip", "error after " + steps.join(","));
ws.onmessage = (e) => {
  const r = JSON.parse(e.data);
  if (r.exception) { report("roundtrip", "exception: " + r.exception.error); return; }
  if (r.details && steps.length === 0) {
    steps.push("details"); me = r.details.details;
    ws.send(JSON.stringify({send: {message: btoa("hello from a browser"), recipient: me}}));
  } else if (r.send && steps.length === 1) {
    steps.push("send");
    ws.send(JSON.stringify({fetch: {}}));
  } else if (r.fetch && steps.length === 2) {
    steps.push("fetch");
    report("roundtrip", "ok " + steps.join(",") + " id=" + me.id);
    ws.close();
  } else {
    report("roundtrip", "unexpected " + e.data);
  }
};
"""

ATTEMPT = """
const ws = new WebSocket("ws://127.0.0.1:%(wsport)s/mix");
let opened = false;
ws.onopen = () => { opened = true; report("%(name)s", "open"); ws.close(); };
ws.onclose = (e) => { if (!opened) report("%(name)s", "refused " + e.code); };
"""


def page(body):
    return "<!doctype html><html><body><script>%s</script></body></html>" % body


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_page(self, text):
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        v = {"hport": self.server.server_port, "wsport": WSPORT}
        if u.path == "/":
            self.send_page(page((REPORT + ROUND_TRIP) % v))
        elif u.path == "/sandboxed":
            inner = page((REPORT + ATTEMPT) % dict(v, name="sandboxed"))
            self.send_page('<!doctype html><html><body><iframe sandbox="allow-scripts" '
                           'srcdoc="%s"></iframe></body></html>' %
                           inner.replace("&", "&amp;").replace('"', "&quot;"))
        elif u.path == "/result":
            q = urllib.parse.parse_qs(u.query)
            name = os.path.basename(q.get("name", ["none"])[0])
            with open(os.path.join(DIR, name), "w") as f:
                f.write(q.get("v", [""])[0] + "\n")
            self.send_response(204)
            self.end_headers()
        else:
            self.send_error(404)


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
v = {"hport": server.server_port, "wsport": WSPORT}
with open(os.path.join(DIR, "file.html"), "w") as f:
    f.write(page((REPORT + ATTEMPT) % dict(v, name="file")))
with open(os.path.join(DIR, "port"), "w") as f:
    f.write("%d\n" % server.server_port)
server.serve_forever()
