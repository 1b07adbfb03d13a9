"""A real nginx in front of an echoing upstream, asking a real Portcullis with auth_request."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.support import free_port

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
IDENTITY = ("user-id", "email", "username", "superuser", "allow", "session-id", "token-kind")


# Each identity header of Portcullis's 200 is set on the request to the upstream, over
# whatever the client sent under that name: the upstream trusts only what nginx sets.
def _pass_on(name: str) -> str:
    variable = name.replace("-", "_")
    return (
        f"      auth_request_set $pc_{variable} $upstream_http_x_portcullis_{variable};\n"
        f"      proxy_set_header X-Portcullis-{name} $pc_{variable};"
    )


_PASS_ON = "\n".join(_pass_on(name) for name in IDENTITY)

CONFIG = """
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location = /_portcullis {{
      internal;
      proxy_pass http://127.0.0.1:{portcullis}/auth/verify$pc_query;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Forwarded-Method $request_method;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Proto $scheme;
    }}
    location / {{
      set $pc_query "";
      auth_request /_portcullis;
{pass_on}
      proxy_pass http://127.0.0.1:{upstream};
    }}
    location /tagged/ {{
      set $pc_query "?allow=S-BSST1";
      auth_request /_portcullis;
{pass_on}
      proxy_pass http://127.0.0.1:{upstream};
    }}
  }}
}}
"""


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        seen = {n: self.headers.get(f"X-Portcullis-{n}") for n in IDENTITY}
        body = json.dumps({"path": self.path, **seen}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


class EchoUpstream:
    """The portal's service: answers with the identity headers it was given."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Nginx:
    def __init__(self, root: Path, portcullis_port: int, upstream_port: int):
        assert NGINX is not None
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = root / "nginx.conf"
        config.write_text(
            CONFIG.format(
                root=root,
                port=self.port,
                portcullis=portcullis_port,
                upstream=upstream_port,
                pass_on=_PASS_ON,
            )
        )
        self._error_log = root / "error.log"
        self.process = subprocess.Popen(
            [NGINX, "-p", str(root), "-c", str(config), "-e", str(self._error_log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self._error_log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not come up")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def curl(url: str, *args: str) -> tuple[int, dict[str, str], str]:
    """Status, headers (lower-cased names) and body of one request by curl."""
    done = subprocess.run(
        ["curl", "-s", "-i", "--max-time", "30", *args, url],
        capture_output=True,
        text=True,
        timeout=40,
        check=True,
    )
    head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *lines = head.split("\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body
