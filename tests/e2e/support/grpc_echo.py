"""A gRPC server and client for the end-to-end tests (Debian's python3-grpcio, no protobuf:
messages are raw bytes). The server writes one line per call it handled to its log,
`METHOD CODE`, the truth the monitor's counts are held to.

  grpc_echo.py serve PORT LOG     prints "ready" once listening, serves until killed
  grpc_echo.py call PORT          makes a fixed mix of calls, prints how many of each
"""
import sys
from concurrent import futures

import grpc


def serve(port, log_path):
    log = open(log_path, "a", buffering=1)

    def logged(method, fn):
        def handler(request, context):
            code = "OK"
            try:
                return fn(request, context)
            except Exception:
                code = context.code().name if context.code() else "UNKNOWN"
                raise
            finally:
                log.write(f"{method} {code}\n")

        return handler

    def logged_stream(method, fn):
        def handler(request, context):
            code = "OK"
            try:
                yield from fn(request, context)
            except Exception:
                code = context.code().name if context.code() else "UNKNOWN"
                raise
            finally:
                log.write(f"{method} {code}\n")

        return handler

    def unary(request, context):
        return request

    def fail(request, context):
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")

    def stream(request, context):
        for i in range(3):
            yield request + bytes([i])

    def stream_fail(request, context):
        yield request
        context.abort(grpc.StatusCode.UNAVAILABLE, "going away")

    def bidi(requests, context):
        for r in requests:
            yield r

    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(logged("Unary", unary)),
        "Fail": grpc.unary_unary_rpc_method_handler(logged("Fail", fail)),
        "Stream": grpc.unary_stream_rpc_method_handler(logged_stream("Stream", stream)),
        "StreamFail": grpc.unary_stream_rpc_method_handler(
            logged_stream("StreamFail", stream_fail)
        ),
        "Bidi": grpc.stream_stream_rpc_method_handler(logged_stream("Bidi", bidi)),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("demo.Echo", handlers),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


def call(port):
    counts = {}
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        grpc.channel_ready_future(ch).result(timeout=10)

        def note(name, ok):
            key = f"{name} {'OK' if ok else 'ERR'}"
            counts[key] = counts.get(key, 0) + 1

        unary = ch.unary_unary("/demo.Echo/Unary")
        fail = ch.unary_unary("/demo.Echo/Fail")
        stream = ch.unary_stream("/demo.Echo/Stream")
        stream_fail = ch.unary_stream("/demo.Echo/StreamFail")
        bidi = ch.stream_stream("/demo.Echo/Bidi")
        for i in range(20):
            unary(b"hello", timeout=10)
            note("Unary", True)
        for i in range(5):
            try:
                fail(b"x", timeout=10)
                note("Fail", True)
            except grpc.RpcError:
                note("Fail", False)
        for i in range(4):
            list(stream(b"s", timeout=10))
            note("Stream", True)
        for i in range(3):
            try:
                list(stream_fail(b"s", timeout=10))
                note("StreamFail", True)
            except grpc.RpcError:
                note("StreamFail", False)
        for i in range(2):
            list(bidi(iter([b"a", b"b", b"c"]), timeout=10))
            note("Bidi", True)
    for k in sorted(counts):
        print(k, counts[k])


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3])
    else:
        call(int(sys.argv[2]))
