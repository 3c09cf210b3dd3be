"""Generates the grpc.testing Python stubs into a temp dir (grpc_tools.protoc)
and makes them importable. Shared by the grpcio interop peer scripts."""
import os
import sys
import tempfile

from grpc_tools import protoc


def load(idl_dir):
    out = tempfile.mkdtemp(prefix="wego-grpc-stubs-")
    args = [
        "protoc",
        "-I" + idl_dir,
        "-I" + os.path.join(os.path.dirname(protoc.__file__), "_proto"),
        "--python_out=" + out,
        "--grpc_python_out=" + out,
        os.path.join(idl_dir, "empty.proto"),
        os.path.join(idl_dir, "messages.proto"),
        os.path.join(idl_dir, "test.proto"),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("grpc_tools.protoc failed")
    sys.path.insert(0, out)
    import empty_pb2  # noqa: F401
    import messages_pb2
    import test_pb2_grpc
    return messages_pb2, empty_pb2, test_pb2_grpc
