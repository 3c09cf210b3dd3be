"""A TJSONProtocol client (Apache Thrift's Python library) against a server
that does not speak TJSON: the call must fail at once with a
TApplicationException of type INVALID_PROTOCOL, not wait for a timeout.

    python3 thrift_json_client.py --port 9090 --transport framed

Prints "INVALID_PROTOCOL <message>" and exits 0 on the expected answer.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen-py"))

from thrift.protocol import TJSONProtocol  # noqa: E402
from thrift.Thrift import TApplicationException  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402

from ThriftTest import ThriftTest  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--transport", choices=["framed", "buffered"], required=True)
args = parser.parse_args()

sock = TSocket.TSocket("127.0.0.1", args.port)
# Far beyond an answer's time; only a hang reaches it.
sock.setTimeout(30000)
trans = TTransport.TFramedTransport(sock) if args.transport == "framed" else TTransport.TBufferedTransport(sock)
client = ThriftTest.Client(TJSONProtocol.TJSONProtocol(trans))
trans.open()
try:
    client.testString("hello")
except TApplicationException as e:
    if e.type != TApplicationException.INVALID_PROTOCOL:
        sys.exit("expected INVALID_PROTOCOL, got type %d: %s" % (e.type, e.message))
    print("INVALID_PROTOCOL", e.message)
    sys.exit(0)
sys.exit("the call succeeded")
