"""ThriftTest server (Apache Thrift's Python library) for wego's client interop tests.

Accepts THeader, framed and unframed clients, binary and compact (THeaderProtocol
detects them), on an OS-chosen port that it prints as `port N` on stdout.

    python3 thrift_test_server.py
"""
import logging
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen-py"))

from thrift.protocol.THeaderProtocol import THeaderProtocolFactory  # noqa: E402
from thrift.transport.THeaderTransport import THeaderClientType  # noqa: E402
from thrift.server import TServer  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402
from thrift.Thrift import TException  # noqa: E402

from ThriftTest import ThriftTest  # noqa: E402
from ThriftTest.ttypes import Insanity, Numberz, Xception, Xception2, Xtruct  # noqa: E402


ALL_CLIENT_TYPES = (
    THeaderClientType.HEADERS,
    THeaderClientType.FRAMED_BINARY,
    THeaderClientType.UNFRAMED_BINARY,
    THeaderClientType.FRAMED_COMPACT,
    THeaderClientType.UNFRAMED_COMPACT,
)


class Handler:
    def testVoid(self):
        pass

    def testString(self, thing):
        return thing

    testBool = testByte = testI32 = testI64 = testDouble = testBinary = testString
    testStruct = testNest = testMap = testStringMap = testSet = testList = testString
    testEnum = testTypedef = testString

    def testMapMap(self, hello):
        return {-4: {-4: -4, -3: -3, -2: -2, -1: -1}, 4: {1: 1, 2: 2, 3: 3, 4: 4}}

    def testInsanity(self, argument):
        return {1: {Numberz.TWO: argument, Numberz.THREE: argument}, 2: {Numberz.SIX: Insanity()}}

    def testMulti(self, arg0, arg1, arg2, arg3, arg4, arg5):
        return Xtruct(string_thing="Hello2", byte_thing=arg0, i32_thing=arg1, i64_thing=arg2)

    def testException(self, arg):
        if arg == "Xception":
            raise Xception(errorCode=1001, message=arg)
        if arg == "TException":
            raise TException(message="This is a TException")

    def testMultiException(self, arg0, arg1):
        if arg0 == "Xception":
            raise Xception(errorCode=1001, message="This is an Xception")
        if arg0 == "Xception2":
            raise Xception2(errorCode=2002, struct_thing=Xtruct(string_thing="This is an Xception2"))
        return Xtruct(string_thing=arg1)

    def testOneway(self, seconds):
        time.sleep(seconds)


def main():
    # TException from testException is expected; keep test output quiet.
    logging.disable(logging.CRITICAL)
    sock = TSocket.TServerSocket(host="127.0.0.1", port=0)
    sock.listen()
    port = sock.handle.getsockname()[1]
    sock.listen = lambda: None  # serve() would otherwise bind a new socket
    processor = ThriftTest.Processor(Handler())
    server = TServer.TThreadedServer(processor, sock, TTransport.TTransportFactoryBase(), THeaderProtocolFactory(allowed_client_types=ALL_CLIENT_TYPES))
    server.daemon = True
    print("port %d" % port, flush=True)
    server.serve()


if __name__ == "__main__":
    main()
