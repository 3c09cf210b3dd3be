"""ThriftTest over TJSONProtocol (Apache Thrift's Python library) against a
wego server that serves TJSON through wego-codec-seams' TJson payload
protocol: every ThriftTest method, checked as wego-kitex's
thrift_test_client.py checks them over binary and compact.

    python3 thrift_tjson_client.py --port 9090 --transport framed

Prints "ok tjson/<transport>" and exits 0 when every answer is right.
"""
import argparse
import os
import sys

KITEX_PEERS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "crates", "wego-kitex", "tests", "peers"
)
sys.path.insert(0, KITEX_PEERS)
sys.path.insert(0, os.path.join(KITEX_PEERS, "gen-py"))

from thrift.protocol import TJSONProtocol  # noqa: E402
from thrift.transport import TSocket, TTransport  # noqa: E402

from ThriftTest import ThriftTest  # noqa: E402
from thrift_test_client import run  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--transport", choices=["framed", "buffered"], required=True)
args = parser.parse_args()

sock = TSocket.TSocket("127.0.0.1", args.port)
# Far beyond an answer's time; only a hang reaches it.
sock.setTimeout(30000)
trans = TTransport.TFramedTransport(sock) if args.transport == "framed" else TTransport.TBufferedTransport(sock)
trans.open()
run(ThriftTest.Client(TJSONProtocol.TJSONProtocol(trans)))
trans.close()
print("ok tjson/%s" % args.transport)
