// An HTTP API in Hertz's annotations, for `wego new http` tests.
namespace go api

enum Role {
    USER = 1,
    ADMIN = 2,
}

struct Address {
    1: required string city (api.vd="len($) > 0; msg:'city must not be empty'"),
    2: optional string zip (api.vd="regexp('^[0-9]{5}$')"),
}

struct CreateUserRequest {
    1: required string name (api.body="name", api.vd="mblen($) >= 2 && mblen($) <= 20"),
    2: required i32 age (api.body="age", api.vd="$ >= 18 && $ < 150; msg:'age must be 18..149'"),
    3: optional string email (api.vd="regexp('^[^@]+@[^@]+$')"),
    4: optional Address address,
    5: optional Role role (api.vd="in($, 1, 2)"),
    6: list<string> tags (api.vd="len($) <= 3"),
    7: optional string contact (api.vd="email($); msg:sprintf('%q is not an email address', $)"),
    8: optional string phone (api.vd="phone($) || phone($, 'US')"),
    9: optional i32 min_age (api.vd="@:$ <= (Age)$; msg:sprintf('min_age %v exceeds age %d', $, (age)$)"),
    10: optional string confirm (api.vd="$ == (contact)$; msg:'confirm must repeat contact'"),
}

struct User {
    1: i64 id,
    2: string name,
    3: i32 age,
    4: optional string token,
}

struct GetUserRequest {
    1: required i64 id (api.path="id", api.vd="$ > 0"),
    2: optional string fields (api.query="fields"),
    3: optional string token (api.header="X-Token"),
    4: optional string session (api.cookie="session"),
    5: list<i32> page (api.query="page"),
}

struct SearchRequest {
    1: required string q (api.form="q", api.vd="mblen($) >= 1"),
    2: i32 limit (api.form="limit", api.vd="$ >= 0 && $ <= 100"),
}

struct SearchResponse {
    1: list<User> users,
}

service UserService {
    User CreateUser(1: CreateUserRequest req) (api.post="/users"),
    User GetUser(1: GetUserRequest req) (api.get="/users/:id"),
    SearchResponse Search(1: SearchRequest req) (api.post="/search"),
    void Ping() (api.get="/ping"),
}
