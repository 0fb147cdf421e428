"""A real SMTP server for the alert tests (Debian's python3-aiosmtpd): STARTTLS required before AUTH (PLAIN, LOGIN)
and before mail, one user and password, every accepted message written whole to <dir>/<n>.eml.

usage: smtp-server.py <port> <cert> <key> <user> <password> <dir> [--tls]   (--tls: implicit TLS instead of STARTTLS)
Prints "ready <port>" on stdout once listening; stops on SIGTERM."""
import asyncio
import os
import signal
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password, folder = sys.argv[1:7]
implicit = "--tls" in sys.argv[7:]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)


class Handler:
    def __init__(self):
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(folder, f"{self.count:04d}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 OK stored"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    return AuthResult(success=ok, handled=False)


kwargs = dict(
    hostname="127.0.0.1",
    port=int(port),
    authenticator=authenticator,
    auth_require_tls=not implicit,
)
if implicit:
    kwargs["ssl_context"] = context
else:
    kwargs["tls_context"] = context
    kwargs["require_starttls"] = True
controller = Controller(Handler(), **kwargs)
controller.start()
print(f"ready {port}", flush=True)
stop = asyncio.Event()
loop = asyncio.new_event_loop()
loop.add_signal_handler(signal.SIGTERM, stop.set)
loop.add_signal_handler(signal.SIGINT, stop.set)
loop.run_until_complete(stop.wait())
controller.stop()
