"""grpcio as the interop client against a TestService server.

usage: grpc_interop_client.py IDL_DIR PORT [CA_PEM]
With CA_PEM, connects with TLS, trusting that CA for the name localhost.
Runs the interop cases; prints PASS/FAIL per case; exits 1 if any failed.
"""
import faulthandler
import os
import sys
import threading

import grpc

import grpc_interop_stubs

IDL, PORT = sys.argv[1], sys.argv[2]
messages, empty, svc = grpc_interop_stubs.load(IDL)
M = messages
SPECIAL = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"


def payload(n):
    return M.Payload(body=b"\0" * n)


def expect_error(fn, code, details=None):
    try:
        fn()
    except grpc.RpcError as e:
        assert e.code() == code, "expected %s, got %s: %s" % (code, e.code(), e.details())
        if details is not None:
            assert e.details() == details, "details %r" % e.details()
        return e
    raise AssertionError("expected %s, got OK" % code)


def empty_unary(stub, ch):
    assert stub.EmptyCall(empty.Empty()) == empty.Empty()


def large_unary(stub, ch):
    r = stub.UnaryCall(M.SimpleRequest(response_size=314159, payload=payload(271828)))
    assert len(r.payload.body) == 314159


def client_streaming(stub, ch):
    reqs = (M.StreamingInputCallRequest(payload=payload(n)) for n in (27182, 8, 1828, 45904))
    assert stub.StreamingInputCall(reqs).aggregated_payload_size == 74922


def server_streaming(stub, ch):
    sizes = (31415, 9, 2653, 58979)
    req = M.StreamingOutputCallRequest(response_parameters=[M.ResponseParameters(size=s) for s in sizes])
    got = [len(r.payload.body) for r in stub.StreamingOutputCall(req)]
    assert got == list(sizes), got


class Pipe:
    """A request iterator fed one message at a time."""

    def __init__(self):
        self.cv = threading.Condition()
        self.items = []
        self.closed = False

    def put(self, item):
        with self.cv:
            self.items.append(item)
            self.cv.notify()

    def close(self):
        with self.cv:
            self.closed = True
            self.cv.notify()

    def __iter__(self):
        return self

    def __next__(self):
        with self.cv:
            while not self.items and not self.closed:
                self.cv.wait()
            if self.items:
                return self.items.pop(0)
            raise StopIteration


def ping_pong(stub, ch):
    pipe = Pipe()
    call = stub.FullDuplexCall(pipe)
    for req, resp in ((27182, 31415), (8, 9), (1828, 2653), (45904, 58979)):
        pipe.put(M.StreamingOutputCallRequest(response_parameters=[M.ResponseParameters(size=resp)], payload=payload(req)))
        assert len(next(call).payload.body) == resp
    pipe.close()
    assert list(call) == []


def empty_stream(stub, ch):
    assert list(stub.FullDuplexCall(iter([]))) == []


def status_code_and_message(stub, ch):
    msg = "test status message"
    st = M.EchoStatus(code=2, message=msg)
    expect_error(lambda: stub.UnaryCall(M.SimpleRequest(response_status=st)), grpc.StatusCode.UNKNOWN, msg)
    expect_error(lambda: list(stub.FullDuplexCall(iter([M.StreamingOutputCallRequest(response_status=st)]))),
                 grpc.StatusCode.UNKNOWN, msg)


def early_failure_trailing_metadata(stub, ch):
    """Not an interop case: a FullDuplexCall that fails before any message
    (a Trailers-Only answer) fails with its status and trailing metadata."""
    md = (("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab"),)
    st = M.EchoStatus(code=2, message="early")
    call = stub.FullDuplexCall(iter([M.StreamingOutputCallRequest(response_status=st)]), metadata=md)
    e = expect_error(lambda: next(call), grpc.StatusCode.UNKNOWN, "early")
    assert ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab") in e.trailing_metadata(), e.trailing_metadata()


def special_status_message(stub, ch):
    st = M.EchoStatus(code=2, message=SPECIAL)
    expect_error(lambda: stub.UnaryCall(M.SimpleRequest(response_status=st)), grpc.StatusCode.UNKNOWN, SPECIAL)


def custom_metadata(stub, ch):
    md = (("x-grpc-test-echo-initial", "test_initial_metadata_value"),
          ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab"))
    _, call = stub.UnaryCall.with_call(M.SimpleRequest(response_size=314159, payload=payload(271828)), metadata=md)
    assert ("x-grpc-test-echo-initial", "test_initial_metadata_value") in call.initial_metadata(), call.initial_metadata()
    assert ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab") in call.trailing_metadata(), call.trailing_metadata()
    call = stub.FullDuplexCall(iter([M.StreamingOutputCallRequest(
        response_parameters=[M.ResponseParameters(size=314159)], payload=payload(271828))]), metadata=md)
    assert len(list(call)) == 1
    assert ("x-grpc-test-echo-initial", "test_initial_metadata_value") in call.initial_metadata()
    assert ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab") in call.trailing_metadata()


def timeout_on_sleeping_server(stub, ch):
    pipe = Pipe()
    pipe.put(M.StreamingOutputCallRequest(response_parameters=[M.ResponseParameters(size=31415)], payload=payload(27182)))
    call = stub.FullDuplexCall(pipe, timeout=0.001)
    expect_error(lambda: list(call), grpc.StatusCode.DEADLINE_EXCEEDED)
    pipe.close()


def cancel_after_begin(stub, ch):
    pipe = Pipe()
    fut = stub.StreamingInputCall.future(pipe)
    fut.cancel()
    assert fut.cancelled()
    assert fut.code() == grpc.StatusCode.CANCELLED, fut.code()
    pipe.close()


def cancel_after_first_response(stub, ch):
    pipe = Pipe()
    call = stub.FullDuplexCall(pipe)
    pipe.put(M.StreamingOutputCallRequest(response_parameters=[M.ResponseParameters(size=31415)], payload=payload(27182)))
    assert len(next(call).payload.body) == 31415
    call.cancel()
    expect_error(lambda: next(call), grpc.StatusCode.CANCELLED)
    pipe.close()


def unimplemented_method(stub, ch):
    expect_error(lambda: stub.UnimplementedCall(empty.Empty()), grpc.StatusCode.UNIMPLEMENTED)


def unimplemented_service(stub, ch):
    u = svc.UnimplementedServiceStub(ch)
    expect_error(lambda: u.UnimplementedCall(empty.Empty()), grpc.StatusCode.UNIMPLEMENTED)


def client_compressed_unary(stub, ch):
    def req(expect):
        return M.SimpleRequest(response_size=314159, payload=payload(271828),
                               expect_compressed=M.BoolValue(value=expect))
    expect_error(lambda: stub.UnaryCall(req(True)), grpc.StatusCode.INVALID_ARGUMENT)
    r = stub.UnaryCall(req(True), compression=grpc.Compression.Gzip)
    assert len(r.payload.body) == 314159
    r = stub.UnaryCall(req(False))
    assert len(r.payload.body) == 314159


def server_compressed_unary(stub, ch):
    for c in (True, False):
        r = stub.UnaryCall(M.SimpleRequest(response_size=314159, payload=payload(271828),
                                           response_compressed=M.BoolValue(value=c)))
        assert len(r.payload.body) == 314159


CASES = [empty_unary, large_unary, client_streaming, server_streaming, ping_pong, empty_stream,
         status_code_and_message, special_status_message, custom_metadata, timeout_on_sleeping_server,
         cancel_after_begin, cancel_after_first_response, unimplemented_method, unimplemented_service,
         client_compressed_unary, server_compressed_unary, early_failure_trailing_metadata]

CASE_LIMIT_S = 60
failed = 0


def channel():
    if len(sys.argv) > 3:
        with open(sys.argv[3], "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        options = [("grpc.ssl_target_name_override", "localhost")]
        return grpc.secure_channel("127.0.0.1:" + PORT, creds, options=options)
    return grpc.insecure_channel("127.0.0.1:" + PORT)


ch = channel()
stub = svc.TestServiceStub(ch)
for case in CASES:
    # A case that hangs prints every thread's stack and ends the run,
    # so the report names it instead of the test timing out blind.
    print("START", case.__name__, flush=True)
    faulthandler.dump_traceback_later(CASE_LIMIT_S, exit=True)
    try:
        case(stub, ch)
        print("PASS", case.__name__, flush=True)
    except Exception as e:  # noqa: BLE001 - report every failure
        failed += 1
        print("FAIL", case.__name__, repr(e), flush=True)
    finally:
        faulthandler.cancel_dump_traceback_later()
# Leave without closing the channel or running interpreter shutdown:
# grpcio's exit path can wait on its own threads for good (grpc/grpc#40620
# and older reports), which would hang the test for a reason that is not the
# server's. Every case above has already finished.
sys.stdout.flush()
sys.stderr.flush()
os._exit(1 if failed else 0)
