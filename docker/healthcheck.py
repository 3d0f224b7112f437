"""HEALTHCHECK of the web container: GET /healthz on the local gunicorn.

Exit 0 when it answers 200 (database and broker usable), 1 otherwise. The Host
header is taken from ALLOWED_HOSTS, so the check passes Django's host
validation whatever domain the site is served under.
"""

import http.client
import os
import sys


def host_header() -> str:
    for item in os.environ.get("ALLOWED_HOSTS", "").split(","):
        name = item.strip().lstrip(".")
        if name and "*" not in name:
            return name
    # Unset: Django's defaults in config/settings.py include localhost; "*" allows any.
    return "localhost"


def main() -> int:
    connection = http.client.HTTPConnection("127.0.0.1", 8000, timeout=8)
    try:
        connection.request("GET", "/healthz", headers={"Host": host_header()})
        response = connection.getresponse()
        body = response.read(500).decode("utf-8", "replace")
    except OSError as exc:
        print(f"healthz: {exc.__class__.__name__}: {exc}")
        return 1
    finally:
        connection.close()
    if response.status != 200:
        print(f"healthz: HTTP {response.status} {body}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
