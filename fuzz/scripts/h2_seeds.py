#!/usr/bin/env python3
"""Writes the seed inputs of the HTTP/2 whole-connection fuzz targets
(h2_server_conn, grpc_server_conn) into fuzz/corpus/<target>/.

Each seed is what a client built with Python's `h2` package sends, laid
out as the target reads its input: a piece-size byte, for h2_server_conn a
mode byte, then the client's bytes without the connection preface (the
targets send it themselves), or, for an `Upgrade: h2c` seed, the HTTP/1.1
request followed by the preface and frames.

Usage: python3 fuzz/scripts/h2_seeds.py   (needs `pip install h2`)
"""
import gzip
import os
import struct

import h2.config
import h2.connection
import h2.settings

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")


def client():
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    return conn


def frames(conn, steps):
    """Runs `steps` (functions of the connection) and returns the bytes
    sent after the preface."""
    for step in steps:
        step(conn)
    out = conn.data_to_send()
    assert out.startswith(PREFACE)
    return out[len(PREFACE):]


def req(method, path, extra=(), end=True, sid=1):
    headers = [(":method", method), (":scheme", "http"), (":path", path), (":authority", "x")]
    headers += list(extra)
    return lambda c: c.send_headers(sid, headers, end_stream=end)


def data(payload, end=True, sid=1):
    return lambda c: c.send_data(sid, payload, end_stream=end)


def write(target, name, content):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(content)


def hertz():
    seeds = {
        "get_root": [req("GET", "/", [("user-agent", "seed")])],
        "post_echo": [req("POST", "/e", [("content-length", "5")], end=False), data(b"hello")],
        "put_stream_two_frames": [req("PUT", "/s", end=False), data(b"abc", end=False), data(b"def")],
        "fail_before_first_byte": [req("GET", "/f0")],
        "fail_after_first_byte": [req("GET", "/f1")],
        "head_root": [req("HEAD", "/")],
        "continue": [req("POST", "/e", [("expect", "100-continue")], end=False), data(b"after")],
        "trailers": [
            req("PUT", "/s", [("te", "trailers")], end=False),
            data(b"body", end=False),
            lambda c: c.send_headers(1, [("x-trailer", "t")], end_stream=True),
        ],
        "streams_and_reset": [
            req("GET", "/", sid=1),
            req("PUT", "/s", end=False, sid=3),
            data(b"x" * 100, end=False, sid=3),
            lambda c: c.reset_stream(3),
            req("GET", "/f1", sid=5),
            lambda c: c.ping(b"12345678"),
            lambda c: c.increment_flow_control_window(1000),
        ],
        "over_body_limit": [req("POST", "/e", end=False), data(b"y" * 5000)],
        "small_window": [
            lambda c: c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 3}),
            req("PUT", "/s", end=False),
            data(b"0123456789"),
        ],
    }
    for name, steps in seeds.items():
        for piece in (0, 7):
            write("h2_server_conn", f"{name}_{piece}", bytes([piece, 0]) + frames(client(), steps))
    # h2c by upgrade: an HTTP/1.1 request, then the preface and SETTINGS.
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    settings = conn.initiate_upgrade_connection()
    after = conn.data_to_send()
    head = (
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\nHTTP2-Settings: " + settings + b"\r\n\r\n"
    )
    write("h2_server_conn", "upgrade_h2c", bytes([0, 1]) + head + after)
    write("h2_server_conn", "upgrade_h2c_pieces", bytes([5, 1]) + head + after)
    body = b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    body += b"Upgrade: h2c\r\nHTTP2-Settings: " + settings + b"\r\n\r\nabc"
    write("h2_server_conn", "upgrade_h2c_with_body", bytes([0, 1]) + body + after)


def grpc_msg(payload, compressed=False):
    if compressed:
        payload = gzip.compress(payload)
    return struct.pack(">BI", 1 if compressed else 0, len(payload)) + payload


def grpc():
    def call(path, extra=()):
        return req(
            "POST",
            path,
            [("content-type", "application/grpc"), ("te", "trailers")] + list(extra),
            end=False,
        )

    seeds = {
        "echo_two_messages": [call("/f.S/Echo"), data(grpc_msg(b"one") + grpc_msg(b"two"))],
        "unary": [call("/f.S/Unary", [("grpc-timeout", "5S")]), data(grpc_msg(b"hello"))],
        "unary_gzip": [
            call("/f.S/Unary", [("grpc-encoding", "gzip"), ("grpc-accept-encoding", "gzip")]),
            data(grpc_msg(b"compressed hello", compressed=True)),
        ],
        "message_split_across_frames": [
            call("/f.S/Echo"),
            data(grpc_msg(b"a" * 40)[:7], end=False),
            data(grpc_msg(b"a" * 40)[7:]),
        ],
        "fail_first": [call("/f.S/FailFirst"), data(grpc_msg(b"x"))],
        "fail_after": [call("/f.S/FailAfter"), data(grpc_msg(b"x"))],
        "ignore": [call("/f.S/Ignore"), data(grpc_msg(b"x" * 300))],
        "unknown_method": [call("/f.S/Nope"), data(grpc_msg(b"x"))],
        "no_end_of_stream": [call("/f.S/Echo"), data(grpc_msg(b"open"), end=False)],
        "over_message_limit": [call("/f.S/Unary"), data(struct.pack(">BI", 0, 5000) + b"z" * 100)],
        "two_calls_and_reset": [
            call("/f.S/Echo"),
            data(grpc_msg(b"first"), end=False),
            lambda c: c.send_headers(
                3,
                [(":method", "POST"), (":scheme", "http"), (":path", "/f.S/Unary"),
                 (":authority", "x"), ("content-type", "application/grpc")],
            ),
            lambda c: c.reset_stream(1),
            lambda c: c.ping(b"abcdefgh"),
        ],
        "wrong_content_type": [
            req("POST", "/f.S/Echo", [("content-type", "text/plain")], end=False),
            data(b"plain"),
        ],
    }
    for name, steps in seeds.items():
        for piece in (0, 9):
            write("grpc_server_conn", f"{name}_{piece}", bytes([piece]) + frames(client(), steps))


if __name__ == "__main__":
    hertz()
    grpc()
