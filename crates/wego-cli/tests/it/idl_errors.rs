//! Invalid IDL is reported with file, line, column and what was expected.

use wego_cli::{Deps, Error, Kind, NewOptions, new_project};

fn generate(kind: Kind, file: &str, text: &str) -> (Error, String) {
    let dir = tempfile::tempdir().unwrap();
    let idl = dir.path().join(file);
    std::fs::write(&idl, text).unwrap();
    let err = new_project(&NewOptions {
        kind,
        idl: idl.clone(),
        name: "svc".into(),
        out: dir.path().join("out"),
        service: None,
        deps: Deps {
            wego_path: None,
            in_workspace: false,
        },
    })
    .unwrap_err();
    assert!(
        !dir.path().join("out").exists(),
        "nothing is written for a bad IDL"
    );
    (err, idl.display().to_string())
}

fn position(e: &Error) -> (String, usize, usize, String) {
    match e {
        Error::Idl {
            file,
            line,
            column,
            message,
        } => (file.clone(), *line, *column, message.clone()),
        other => panic!("expected an IDL error, got {other:?}"),
    }
}

#[test]
fn thrift_syntax_errors_name_file_line_and_column() {
    let (err, file) = generate(
        Kind::Rpc,
        "bad.thrift",
        "struct A {\n    1: required string a,\n}\n\nservice S {\n    A get(1: A a\n}\n",
    );
    let (f, line, column, message) = position(&err);
    assert_eq!(f, file);
    assert_eq!(line, 7, "{err}");
    assert!(column >= 1, "{err}");
    assert!(message.contains("expected"), "{err}");
    assert!(err.to_string().starts_with(&format!("{file}:7:")), "{err}");
}

#[test]
fn thrift_unknown_types_are_located() {
    let (err, _) = generate(
        Kind::Rpc,
        "unknown.thrift",
        "service S {\n    Missing get(1: i32 id)\n}\n",
    );
    let (_, line, _, message) = position(&err);
    assert_eq!(line, 2, "{err}");
    assert!(message.contains("unknown type Missing"), "{err}");
}

#[test]
fn vd_errors_point_into_the_annotation() {
    let text = "struct R {\n    1: required i32 age (api.vd=\"$ > 'x'\"),\n}\nservice S {\n    R get(1: R r) (api.get=\"/r\"),\n}\n";
    let (err, _) = generate(Kind::Http, "vd.thrift", text);
    let (_, line, column, message) = position(&err);
    assert_eq!(line, 2, "{err}");
    // `'x'` starts 4 bytes into `$ > 'x'`, which starts at column 34.
    assert_eq!(column, 34 + 4, "{err}");
    assert!(message.contains("in api.vd of R.age"), "{err}");
    assert!(message.contains("expected a number"), "{err}");
}

#[test]
fn vd_references_to_unknown_fields_are_located() {
    let text = "struct R {\n    1: required i32 age,\n    2: i32 min (api.vd=\"$ < (Agee)$\"),\n}\nservice S {\n    R get(1: R r) (api.get=\"/r\"),\n}\n";
    let (err, _) = generate(Kind::Http, "refs.thrift", text);
    let (_, line, column, message) = position(&err);
    assert_eq!(line, 3, "{err}");
    // `(Agee)$` starts 4 bytes into `$ < (Agee)$`, which starts at column 25.
    assert_eq!(column, 25 + 4, "{err}");
    assert!(message.contains("no field `Agee` in R"), "{err}");
    assert!(message.contains("expected one of age, min"), "{err}");

    let text = "struct R {\n    1: required string a (api.vd=\"$ != ''; msg:sprintf('%d', $)\"),\n}\nservice S {\n    R get(1: R r) (api.get=\"/r\"),\n}\n";
    let (err, _) = generate(Kind::Http, "fmt.thrift", text);
    let (_, line, _, message) = position(&err);
    assert_eq!(line, 2, "{err}");
    assert!(
        message.contains("%d of a string, expected a number"),
        "{err}"
    );
}

#[test]
fn http_bindings_that_cannot_work_are_refused() {
    let text = "struct R {\n    1: required list<i32> ids (api.header=\"X-Ids\"),\n}\nservice S {\n    R get(1: R r) (api.get=\"/r\"),\n}\n";
    let (err, _) = generate(Kind::Http, "bind.thrift", text);
    let (_, line, _, message) = position(&err);
    assert_eq!(line, 2, "{err}");
    assert!(message.contains("bound from the header"), "{err}");

    let text = "struct R { 1: i32 a }\nservice S {\n    R get(1: R r)\n}\n";
    let (err, _) = generate(Kind::Http, "plain.thrift", text);
    assert!(
        err.to_string()
            .contains("no method with an HTTP annotation"),
        "{err}"
    );
}

#[test]
fn proto_errors_name_file_line_and_column() {
    let (err, file) = generate(
        Kind::Rpc,
        "bad.proto",
        "syntax = \"proto3\";\npackage p;\n\nmessage M {\n  string a = 1\n}\n",
    );
    let (f, line, column, message) = position(&err);
    assert!(f.ends_with("bad.proto"), "{f} vs {file}");
    assert_eq!((line, column), (6, 1), "{err}");
    assert!(message.contains("expected"), "{err}");

    let (err, _) = generate(
        Kind::Rpc,
        "unknown.proto",
        "syntax = \"proto3\";\npackage p;\n\nservice S {\n  rpc Get(Missing) returns (Missing);\n}\n",
    );
    let (_, line, _, _) = position(&err);
    assert_eq!(line, 5, "{err}");
}

const PROTO_HEAD: &str = "syntax = \"proto3\";\npackage p;\nimport \"api.proto\";\n\n";

#[test]
fn proto_http_refuses_oneof_with_its_position() {
    let text = format!(
        "{PROTO_HEAD}message R {{\n  oneof pick {{\n    string a = 1;\n    int32 b = 2;\n  }}\n}}\nservice S {{\n  rpc Get(R) returns (R) {{ option (api.get) = \"/r\"; }}\n}}\n"
    );
    let (err, file) = generate(Kind::Http, "oneof.proto", &text);
    let (f, line, column, message) = position(&err);
    assert_eq!(f, file);
    assert_eq!((line, column), (7, 5), "{err}");
    assert!(message.contains("R.a is in oneof pick"), "{err}");
}

#[test]
fn proto_http_vd_errors_point_into_the_option() {
    let text = format!(
        "{PROTO_HEAD}message R {{\n  int32 age = 1 [(api.vd) = \"$ > (Nope)$\"];\n}}\nservice S {{\n  rpc Get(R) returns (R) {{ option (api.get) = \"/r\"; }}\n}}\n"
    );
    let (err, _) = generate(Kind::Http, "vd.proto", &text);
    let (_, line, column, message) = position(&err);
    assert_eq!(line, 6, "{err}");
    // `(Nope)$` starts 4 bytes into `$ > (Nope)$`, which starts at column 30.
    assert_eq!(column, 30 + 4, "{err}");
    assert!(
        message.contains("in (api.vd) of R.age: no field `Nope`"),
        "{err}"
    );
}

#[test]
fn proto_http_needs_routes_and_bindable_fields() {
    let text = "syntax = \"proto3\";\npackage p;\nmessage R { int32 a = 1; }\nservice S {\n  rpc Get(R) returns (R);\n}\n";
    let (err, _) = generate(Kind::Http, "plain.proto", text);
    let (_, line, _, message) = position(&err);
    assert_eq!(line, 4, "{err}");
    assert!(message.contains("no method with an HTTP option"), "{err}");

    let text = format!(
        "{PROTO_HEAD}message R {{\n  repeated int32 ids = 1 [(api.header) = \"X-Ids\"];\n}}\nservice S {{\n  rpc Get(R) returns (R) {{ option (api.get) = \"/r\"; }}\n}}\n"
    );
    let (err, _) = generate(Kind::Http, "bind.proto", &text);
    let (_, line, _, message) = position(&err);
    assert_eq!(line, 6, "{err}");
    assert!(message.contains("bound from the header"), "{err}");

    let text = format!(
        "{PROTO_HEAD}import \"google/protobuf/timestamp.proto\";\nmessage R {{\n  google.protobuf.Timestamp at = 1;\n}}\nservice S {{\n  rpc Get(R) returns (R) {{ option (api.get) = \"/r\"; }}\n}}\n"
    );
    let (err, _) = generate(Kind::Http, "wkt.proto", &text);
    let (_, line, _, message) = position(&err);
    assert_eq!(line, 7, "{err}");
    assert!(message.contains("well-known type"), "{err}");
}
