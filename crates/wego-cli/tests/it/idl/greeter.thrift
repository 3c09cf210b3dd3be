// A small RPC service for `wego update` tests.
struct HelloRequest {
    1: required string name,
}

struct HelloReply {
    1: required string message,
}

exception Busy {
    1: string reason,
}

service Greeter {
    HelloReply SayHello(1: HelloRequest req),
    HelloReply SayLater(1: HelloRequest req) throws (1: Busy busy),
}
