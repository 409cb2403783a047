#!/usr/bin/python3
"""A real SMTP server for tests (Debian's python3-aiosmtpd), driven by
tests/fakes/smtp_server.h.

Listens on 127.0.0.1, port 0, and reports on stdout, one JSON object a line:
  {"event": "ready", "port": N}
  {"event": "connect", "conn": K}
  {"event": "command", "conn": K, "verb": "EHLO", "tls": false, "arg": "name"}
                         every command (arg for EHLO, HELO, MAIL, RCPT)
  {"event": "auth", "conn": K, "mechanism": "PLAIN", "login": "u", "success": true, "tls": true}
  {"event": "message", "conn": K, "mail_from": ..., "rcpt_tos": [...], "tls": ...,
   "login": ..., "raw": ..., "headers": [[name, decoded value]...],
   "content_type": ..., "parts": [{"content_type", "charset", "encoding", "content"}],
   "defects": [...]}    before the reply to DATA, so a delivered message is
                         already reported when the client hears 250
  {"event": "closed", "conn": K}
Runs until stdin is closed, then exits 0.

  --tls starttls|implicit|none   offer STARTTLS / TLS from the first byte / no TLS
  --cert FILE --key FILE         the server's certificate (starttls, implicit)
  --auth USER:PASSWORD           require AUTH (only over TLS unless --tls none)
  --reply VERB=REPLY             answer STARTTLS, MAIL, RCPT or DATA with REPLY
                                 (e.g. "RCPT=450 4.2.1 busy")
"""
import argparse
import asyncio
import email
import email.policy
import itertools
import json
import ssl
import sys
import threading

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

_ids = itertools.count(1)


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


class RecordingSMTP(SMTP):
    """aiosmtpd's SMTP that reports every command it runs, with whether the
    connection was encrypted at that moment."""

    def __init__(self, handler, **kwargs):
        super().__init__(handler, **kwargs)
        self.conn = next(_ids)
        self._reported_closed = False
        for verb, method in list(self._smtp_methods.items()):
            self._smtp_methods[verb] = self._recorded(verb, method)

    def _recorded(self, verb, method):
        async def run(arg):
            event = {"event": "command", "conn": self.conn, "verb": verb, "tls": self.is_tls()}
            if verb in ("EHLO", "HELO", "MAIL", "RCPT"):  # never AUTH's credentials
                event["arg"] = arg
            emit(event)
            scripted = self.event_handler.replies.get(verb) if verb == "STARTTLS" else None
            if scripted:
                return await self.push(scripted)
            return await method(arg)
        return run

    def is_tls(self):
        if self._tls_protocol is not None:
            return True
        return self.transport is not None and \
            self.transport.get_extra_info("sslcontext") is not None

    def connection_made(self, transport):
        fresh = self.transport is None
        super().connection_made(transport)
        if fresh:
            emit({"event": "connect", "conn": self.conn})

    def connection_lost(self, error):
        if not self._reported_closed:
            self._reported_closed = True
            emit({"event": "closed", "conn": self.conn})
        super().connection_lost(error)


class Handler:
    def __init__(self, replies):
        self.replies = replies

    async def handle_MAIL(self, server, session, envelope, address, options):
        if "MAIL" in self.replies:
            return self.replies["MAIL"]
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if "RCPT" in self.replies:
            return self.replies["RCPT"]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if "DATA" in self.replies:
            return self.replies["DATA"]
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            parts.append({
                "content_type": part.get_content_type(),
                "charset": part.get_content_charset(),
                "encoding": part.get("Content-Transfer-Encoding"),
                # Line ends as a reader sees them, whatever the wire had.
                "content": part.get_content().replace("\r\n", "\n"),
            })
        login = session.login_data
        emit({
            "event": "message",
            "conn": server.conn,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": server.is_tls(),
            "login": login.decode() if isinstance(login, bytes) else login,
            "raw": raw.decode("utf-8", errors="replace"),
            "headers": [[k, str(v)] for k, v in msg.items()],
            "content_type": msg.get_content_type(),
            "parts": parts,
            "defects": [type(d).__name__ for p in msg.walk() for d in p.defects],
        })
        return "250 OK queued"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls", choices=["starttls", "implicit", "none"], default="starttls")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth")
    ap.add_argument("--reply", action="append", default=[])
    args = ap.parse_args()

    context = None
    if args.tls != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    user = password = None
    if args.auth:
        user, _, password = args.auth.partition(":")
    replies = dict(r.split("=", 1) for r in args.reply)

    def authenticator(server, session, envelope, mechanism, auth_data):
        tls = server.is_tls()
        ok = (tls or args.tls == "none") and isinstance(auth_data, LoginPassword) and \
            auth_data.login.decode() == user and auth_data.password.decode() == password
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None
        emit({"event": "auth", "conn": server.conn, "mechanism": mechanism, "login": login,
              "success": ok, "tls": tls})
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = Handler(replies)

    def factory():
        return RecordingSMTP(
            handler,
            hostname="smtp.test",
            loop=loop,
            tls_context=context if args.tls == "starttls" else None,
            authenticator=authenticator if user is not None else None,
            auth_required=user is not None,
            # The authenticator itself refuses AUTH in clear (aiosmtpd's own
            # check does not see implicit TLS).
            auth_require_tls=False,
        )

    server = loop.run_until_complete(loop.create_server(
        factory, host="127.0.0.1", port=0,
        ssl=context if args.tls == "implicit" else None))
    emit({"event": "ready", "port": server.sockets[0].getsockname()[1]})

    def wait_for_eof():
        sys.stdin.read()
        loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=wait_for_eof, daemon=True).start()
    loop.run_forever()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
