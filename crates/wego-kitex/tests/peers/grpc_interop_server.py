"""grpcio as the interop TestService server, for our client.

usage: grpc_interop_server.py IDL_DIR
Prints the bound port on the first line, then serves until stdin closes.
"""
import sys
import time
from concurrent import futures

import grpc

import grpc_interop_stubs

IDL = sys.argv[1]
M, empty, svc = grpc_interop_stubs.load(IDL)
ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"


def code_of(n):
    for c in grpc.StatusCode:
        if c.value[0] == n:
            return c
    return grpc.StatusCode.UNKNOWN


def echo_metadata(context):
    md = dict(context.invocation_metadata())
    if ECHO_INITIAL in md:
        context.send_initial_metadata(((ECHO_INITIAL, md[ECHO_INITIAL]),))
    if ECHO_TRAILING in md:
        context.set_trailing_metadata(((ECHO_TRAILING, md[ECHO_TRAILING]),))


def maybe_abort(status, context):
    if status.code != 0:
        context.abort(code_of(status.code), status.message)


def out(size):
    return M.StreamingOutputCallResponse(payload=M.Payload(body=b"\0" * size))


class TestService(svc.TestServiceServicer):
    def EmptyCall(self, request, context):
        echo_metadata(context)
        return empty.Empty()

    def UnaryCall(self, request, context):
        echo_metadata(context)
        maybe_abort(request.response_status, context)
        if request.response_compressed.value:
            context.set_compression(grpc.Compression.Gzip)
        return M.SimpleResponse(payload=M.Payload(body=b"\0" * request.response_size))

    def StreamingOutputCall(self, request, context):
        echo_metadata(context)
        maybe_abort(request.response_status, context)
        for p in request.response_parameters:
            if p.interval_us:
                time.sleep(p.interval_us / 1e6)
            yield out(p.size)

    def StreamingInputCall(self, request_iterator, context):
        total = sum(len(r.payload.body) for r in request_iterator)
        return M.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):
        echo_metadata(context)
        for r in request_iterator:
            maybe_abort(r.response_status, context)
            for p in r.response_parameters:
                if p.interval_us:
                    time.sleep(p.interval_us / 1e6)
                yield out(p.size)

    def HalfDuplexCall(self, request_iterator, context):
        reqs = list(request_iterator)
        for r in reqs:
            for p in r.response_parameters:
                yield out(p.size)


server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
svc.add_TestServiceServicer_to_server(TestService(), server)
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(port, flush=True)
sys.stdin.read()
server.stop(0)
