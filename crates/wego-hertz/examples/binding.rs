//! Binding and validation in wego-hertz: typed extractors from the path,
//! query, JSON and forms, checked with the `validator` crate's derive.
//!
//! A failing check answers `400` with the failing fields under their wire
//! (serde) names:
//!
//! ```text
//! $ curl -s localhost:8080/users -H 'content-type: application/json' \
//!        -d '{"userName":"x","email":"nope","age":7}'
//! {"error":"validation failed","fields":[{"field":"age","reason":"must be 13 or older"},
//!  {"field":"email","reason":"failed `email`"},{"field":"userName","reason":"failed `length` (max=32, min=3)"}]}
//! ```
//!
//! Other rejections keep their own status: a wrong content type is 415,
//! malformed JSON 400, JSON of the wrong shape 422, a body over the limit 413.
//!
//! Run: `cargo run -p wego-hertz --example binding -- --port 8080`.

use serde::{Deserialize, Serialize};
use validator::Validate;
use wego_hertz::extract::{Form, Json, Path, Query, Valid};
use wego_hertz::{Router, Server};
use wego_netpoll::{Address, rt};

#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(rename_all = "camelCase")]
struct NewUser {
    #[validate(length(min = 3, max = 32))]
    user_name: String,
    #[validate(email)]
    email: String,
    #[validate(range(min = 13, message = "must be 13 or older"))]
    age: u32,
}

#[derive(Debug, Deserialize, Validate)]
struct Page {
    #[validate(range(min = 1, max = 100))]
    #[serde(default = "default_size")]
    size: u32,
    #[serde(default)]
    q: String,
}

fn default_size() -> u32 {
    20
}

#[derive(Debug, Deserialize, Validate)]
struct Login {
    #[validate(length(min = 1))]
    user: String,
    #[validate(length(min = 8, message = "at least 8 characters"))]
    password: String,
}

pub(crate) fn app() -> Router {
    Router::new()
        .post("/users", |Valid(Json(user)): Valid<Json<NewUser>>| async move {
            (http::StatusCode::CREATED, Json(user))
        })
        .get("/users", |Valid(Query(page)): Valid<Query<Page>>| async move {
            format!("page of {} matching {:?}\n", page.size, page.q)
        })
        .get("/users/:id", |Path(id): Path<u64>| async move { format!("user #{id}\n") })
        .post("/login", |Valid(Form(login)): Valid<Form<Login>>| async move {
            format!("hello {}\n", login.user)
        })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:8080");
    let mut backend = rt::Backend::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--port", Some(port)) => addr = format!("127.0.0.1:{port}"),
            ("--addr", Some(a)) => addr = a,
            ("--backend", Some(b)) => backend = b.parse()?,
            _ => {
                return Err(format!(
                    "usage: binding [--port N] [--addr HOST:PORT] [--backend tokio|polling]; \
                     got {arg}"
                )
                .into());
            }
        }
    }
    let addr: Address = addr.parse()?;
    let runtime = rt::Runtime::builder().backend(backend).build()?;
    runtime.block_on(async move {
        let server = Server::builder()
            .on_run(|addr| eprintln!("binding example listening on http://{addr}"))
            .build()?;
        server.serve_addr(&addr, app()).await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
