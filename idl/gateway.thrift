// An item service mapped onto HTTP with hz-style `api.*` annotations: the
// IDL of the `gateway` example (examples/gateway), of the HTTP generic
// call's unit tests and of its fuzz target. docs/generic.md describes the
// rules.
namespace rs gateway

enum Color {
    RED = 1,
    GREEN = 2,
    BLUE = 3,
}

struct Item {
    1: i64 id,
    2: string name,
    3: optional list<string> tags,
    4: optional Color color,
}

// GET /items/:id?verbose=1&field=1,2&color=RED with X-Trace-Id and a
// `session` cookie.
struct GetItemRequest {
    1: required i64 id (api.path = "id"),
    2: optional bool verbose (api.query = "verbose"),
    3: optional string trace (api.header = "X-Trace-Id"),
    4: optional string session (api.cookie = "session"),
    5: optional list<i32> fields (api.query = "field"),
    6: optional Color color (api.query = "color"),
}

// The status, a header and a cookie come from fields; the rest is JSON.
struct ItemReply {
    1: i32 code (api.http_code = ""),
    2: optional string trace (api.header = "X-Trace-Id"),
    3: optional string session (api.cookie = "session"),
    4: Item item (api.body = "item"),
    5: optional string note,
}

// POST /items with a JSON body: `name` and `color` by field name, `tags`
// under the key `labels`.
struct CreateItemRequest {
    1: required string name,
    2: optional list<string> tags (api.body = "labels"),
    3: optional Color color,
    4: optional string idempotency_key (api.header = "Idempotency-Key"),
}

// POST /search with an urlencoded form.
struct SearchRequest {
    1: required string q (api.form = "q"),
    2: optional i32 limit (api.form = "limit"),
    3: optional set<string> tags (api.form = "tag"),
}

struct SearchReply {
    1: list<Item> items,
    2: i32 total,
}

// PUT /files/:name with the file as the raw body.
struct UploadRequest {
    1: required string name (api.path = "name"),
    2: required binary data (api.raw_body = ""),
    3: optional string content_type (api.header = "Content-Type"),
}

struct UploadReply {
    1: string name,
    2: i64 size,
}

// GET /download/*path: a catch-all route, the file as the raw reply body.
struct DownloadRequest {
    1: required string path (api.path = "path"),
}

struct DownloadReply {
    1: binary data (api.raw_body = ""),
    2: string content_type (api.header = "Content-Type"),
}

// Answered with status 404 (its `api.http_code` field).
exception NotFound {
    1: string message,
    2: i32 code (api.http_code = ""),
}

// Answered with status 500 (no `api.http_code` field).
exception Invalid {
    1: string message,
    2: string field,
}

service ItemService {
    ItemReply GetItem(1: GetItemRequest req) throws (1: NotFound missing) (api.get = "/items/:id")
    Item CreateItem(1: CreateItemRequest req) throws (1: Invalid invalid) (api.post = "/items")
    void DeleteItem(1: GetItemRequest req) throws (1: NotFound missing) (api.delete = "/items/:id")
    SearchReply Search(1: SearchRequest req) (api.post = "/search")
    UploadReply Upload(1: UploadRequest req) (api.put = "/files/:name")
    DownloadReply Download(1: DownloadRequest req) throws (1: NotFound missing) (api.get = "/download/*path")
    oneway void Touch(1: GetItemRequest req) (api.post = "/items/:id/touch")
}
