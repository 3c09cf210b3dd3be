"""ThriftTest client (Apache Thrift's Python library) for wego's interop tests.

Calls every ThriftTest method against a server and checks the answers, as
Apache Thrift's own cross-language TestClient does.

    python3 thrift_test_client.py --port 9090 --transport framed --protocol compact
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen-py"))

from thrift.protocol import TBinaryProtocol, TCompactProtocol  # noqa: E402
from thrift.protocol.THeaderProtocol import THeaderProtocol  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402
from thrift.transport.THeaderTransport import THeaderClientType, THeaderSubprotocolID  # noqa: E402
from thrift.Thrift import TApplicationException  # noqa: E402

from ThriftTest import SecondService, ThriftTest  # noqa: E402
from ThriftTest.ttypes import Insanity, Numberz, Xception, Xception2, Xtruct, Xtruct2  # noqa: E402


def connect(args):
    if args.tls_ca:
        from thrift.transport import TSSLSocket

        sock = TSSLSocket.TSSLSocket(
            "127.0.0.1", args.port, ca_certs=args.tls_ca, server_hostname="localhost"
        )
    else:
        sock = TSocket.TSocket("127.0.0.1", args.port)
    sock.setTimeout(10000)
    if args.transport == "header":
        sub = THeaderSubprotocolID.COMPACT if args.protocol == "compact" else THeaderSubprotocolID.BINARY
        proto = THeaderProtocol(sock, [THeaderClientType.HEADERS], default_protocol=sub)
        trans = proto.trans
    else:
        trans = TTransport.TFramedTransport(sock) if args.transport == "framed" else TTransport.TBufferedTransport(sock)
        if args.protocol == "compact":
            proto = TCompactProtocol.TCompactProtocol(trans)
        else:
            proto = TBinaryProtocol.TBinaryProtocol(trans, strictRead=not args.non_strict, strictWrite=not args.non_strict)
    trans.open()
    return trans, proto


def check(name, got, want):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (name, got, want))


def run(c):
    check("testVoid", c.testVoid(), None)
    check("testString", c.testString("Test ü 日本"), "Test ü 日本")
    check("testString empty", c.testString(""), "")
    check("testBool true", c.testBool(True), True)
    check("testBool false", c.testBool(False), False)
    check("testByte", c.testByte(-127), -127)
    check("testI32", c.testI32(-2147483648), -2147483648)
    check("testI64", c.testI64(-34359738368), -34359738368)
    check("testDouble", c.testDouble(-5.2098523), -5.2098523)
    blob = bytes(range(256))
    check("testBinary", c.testBinary(blob), blob)
    x = Xtruct(string_thing="Zero", byte_thing=1, i32_thing=-3, i64_thing=-5)
    check("testStruct", c.testStruct(x), x)
    x2 = Xtruct2(byte_thing=1, struct_thing=x, i32_thing=5)
    check("testNest", c.testNest(x2), x2)
    m = {i: i - 10 for i in range(5)}
    check("testMap", c.testMap(m), m)
    sm = {"a": "2", "b": "blah", "some": "thing"}
    check("testStringMap", c.testStringMap(sm), sm)
    s = {1, 2, 3, -4}
    check("testSet", c.testSet(s), s)
    lst = [1, 2, 3, -4, 5]
    check("testList", c.testList(lst), lst)
    check("testEnum", c.testEnum(Numberz.FIVE), Numberz.FIVE)
    check("testTypedef", c.testTypedef(309858235082523), 309858235082523)
    check("testMapMap", c.testMapMap(1), {-4: {-4: -4, -3: -3, -2: -2, -1: -1}, 4: {1: 1, 2: 2, 3: 3, 4: 4}})
    ins = Insanity(userMap={Numberz.FIVE: 5, Numberz.EIGHT: 8}, xtructs=[x])
    got = c.testInsanity(ins)
    check("testInsanity 1", got[1], {Numberz.TWO: ins, Numberz.THREE: ins})
    check("testInsanity 2", got[2][Numberz.SIX].userMap or {}, {})
    multi = c.testMulti(74, 1 << 30, 1 << 40, {1: "a"}, Numberz.FIVE, 12345)
    check("testMulti", multi, Xtruct(string_thing="Hello2", byte_thing=74, i32_thing=1 << 30, i64_thing=1 << 40))
    try:
        c.testException("Xception")
        raise AssertionError("testException: no Xception")
    except Xception as e:
        check("testException code", e.errorCode, 1001)
        check("testException message", e.message, "Xception")
    try:
        c.testException("TException")
        raise AssertionError("testException: no TException")
    except TApplicationException:
        pass
    check("testException safe", c.testException("safe"), None)
    try:
        c.testMultiException("Xception", "ignored")
        raise AssertionError("testMultiException: no Xception")
    except Xception as e:
        check("testMultiException code", e.errorCode, 1001)
    try:
        c.testMultiException("Xception2", "ignored")
        raise AssertionError("testMultiException: no Xception2")
    except Xception2 as e:
        check("testMultiException2 code", e.errorCode, 2002)
        check("testMultiException2 thing", e.struct_thing.string_thing, "This is an Xception2")
    check("testMultiException ok", c.testMultiException("Xtruct", "ret").string_thing, "ret")
    # The server's handler sleeps 3 s; a client that waited for it would
    # take at least that long, a loaded machine alone never does.
    start = time.time()
    c.testOneway(3)
    if time.time() - start >= 3:
        raise AssertionError("testOneway waited for the server")
    # The connection still works after a oneway call.
    check("after oneway", c.testI32(7), 7)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--transport", choices=["buffered", "framed", "header"], default="buffered")
    p.add_argument("--protocol", choices=["binary", "compact"], default="binary")
    p.add_argument("--non-strict", action="store_true")
    p.add_argument("--second", action="store_true", help="also call SecondService (multiplexed by method name)")
    p.add_argument("--tls-ca", help="connect with TLS, trusting this CA (PEM) for the name localhost")
    args = p.parse_args()
    trans, proto = connect(args)
    run(ThriftTest.Client(proto))
    if args.second:
        check("secondtestString", SecondService.Client(proto).secondtestString("x"), 'testString("x")')
    trans.close()
    print("ok %s/%s" % (args.transport, args.protocol))


if __name__ == "__main__":
    main()
