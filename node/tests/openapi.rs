//! `node/openapi.json` against itself, the router's source and a real node:
//! the document is well-formed OpenAPI 3.1 with bearer auth; every route in
//! `src/http/mod.rs` is documented; and every documented operation is routed
//! by a running node, which answers only with statuses, error codes and JSON
//! shapes the document lists. `GET /openapi.json` serves the file's bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

#[path = "support/poll.rs"]
mod poll;
use poll::poll;

const DOCUMENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
const ROUTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/mod.rs");
const ADMIN_KEY: &str = "openapi-test-admin-key";
const OPERATOR_KEY: &str = "openapi-test-operator-key";
const METHODS: [&str; 5] = ["post", "get", "put", "patch", "delete"];
/// Unauthenticated by design (api.md), and nothing else.
const PUBLIC: [&str; 4] = ["/healthz", "/readyz", "/metrics", "/openapi.json"];
/// Their examples would change the test cluster's membership (and adding an
/// unreachable learner waits for it); they get `{}` and must refuse it.
const MEMBERSHIP_CHANGES: [&str; 2] = ["/v1/cluster/learners", "/v1/cluster/voters"];
/// Fields that hold money: always decimal strings.
const AMOUNT_FIELDS: [&str; 12] = [
    "amount",
    "net",
    "paid",
    "received",
    "threshold",
    "at_least",
    "debits_posted",
    "credits_posted",
    "debits_pending",
    "credits_pending",
    "posted",
    "available",
];

fn document() -> Value {
    let text = std::fs::read_to_string(DOCUMENT).expect("read node/openapi.json");
    serde_json::from_str(&text).expect("node/openapi.json is valid JSON")
}

/// Follows local `$ref`s.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("non-local $ref {reference}"));
        value = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("$ref {reference} resolves to nothing"));
    }
    value
}

/// Every (path, method, operation), in path order with POST first.
fn operations(doc: &Value) -> Vec<(String, &'static str, &Value)> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut all = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                all.push((path.clone(), method, operation));
            }
        }
    }
    all
}

/// Calls `visit` on every value in `value`, depth first.
fn walk<'a>(value: &'a Value, visit: &mut impl FnMut(&'a Value)) {
    visit(value);
    match value {
        Value::Object(map) => map.values().for_each(|v| walk(v, visit)),
        Value::Array(items) => items.iter().for_each(|v| walk(v, visit)),
        _ => {}
    }
}

/// The JSON types a schema admits, through `$ref`, `allOf`, `anyOf` and `oneOf`.
fn schema_types(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let schema = resolve(doc, schema);
    let mut types = BTreeSet::new();
    match schema.get("type") {
        Some(Value::String(t)) => {
            types.insert(t.clone());
        }
        Some(Value::Array(ts)) => {
            types.extend(ts.iter().filter_map(Value::as_str).map(str::to_string))
        }
        _ => {}
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for sub in schema
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            types.extend(schema_types(doc, sub));
        }
    }
    types
}

fn json_type_matches(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => panic!("unknown JSON Schema type {name}"),
    }
}

/// Whether `value` conforms to `schema` (the subset of JSON Schema the
/// document uses; `pattern` and `format` are not checked).
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    for sub in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        conforms(doc, sub, value, at)?;
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array)
        && !any.iter().any(|sub| conforms(doc, sub, value, at).is_ok())
    {
        return Err(format!("{at}: {value} matches no anyOf alternative"));
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = one
            .iter()
            .filter(|sub| conforms(doc, sub, value, at).is_ok())
            .count();
        if matching != 1 {
            return Err(format!(
                "{at}: {value} matches {matching} oneOf alternatives, not one"
            ));
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) if !json_type_matches(t, value) => {
            return Err(format!("{at}: {value} is not {t}"));
        }
        Some(Value::Array(ts))
            if !ts
                .iter()
                .any(|t| json_type_matches(t.as_str().expect("type name"), value)) =>
        {
            return Err(format!(
                "{at}: {value} is none of {}",
                Value::Array(ts.clone())
            ));
        }
        _ => {}
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        return Err(format!(
            "{at}: {value} is not one of {}",
            Value::Array(allowed.clone())
        ));
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        return Err(format!("{at}: {value} is not {constant}"));
    }
    if let Value::Object(object) = value {
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = name.as_str().expect("required names");
            if !object.contains_key(name) {
                return Err(format!("{at}: required member {name} is missing"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (name, member) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => conforms(doc, sub, member, &format!("{at}.{name}"))?,
                None if closed => return Err(format!("{at}: member {name} is not in the schema")),
                None => {}
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (n, item) in items.iter().enumerate() {
            conforms(doc, item_schema, item, &format!("{at}[{n}]"))?;
        }
    }
    Ok(())
}

/// The `{name}`s in a path template.
fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

/// The operation's parameters, resolved.
fn parameters<'a>(doc: &'a Value, operation: &'a Value) -> Vec<&'a Value> {
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| resolve(doc, p))
        .collect()
}

/// The request body examples of an operation (`example` and `examples.*.value`).
fn request_examples(doc: &Value, operation: &Value) -> Vec<Value> {
    let Some(body) = operation.get("requestBody") else {
        return Vec::new();
    };
    let media = &resolve(doc, body)["content"]["application/json"];
    let mut examples: Vec<Value> = media.get("example").cloned().into_iter().collect();
    for example in media["examples"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, e)| resolve(doc, e))
    {
        examples.push(example["value"].clone());
    }
    examples
}

/// `(path, method)` of every route the router's source declares, but `/internal`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(ROUTER).expect("read src/http/mod.rs");
    let mut routes = BTreeSet::new();
    let mut rest = source.as_str();
    while let Some(at) = rest.find(".route(\"") {
        rest = &rest[at + ".route(\"".len()..];
        let path_end = rest.find('"').expect("closing quote");
        let path = rest[..path_end].to_string();
        let mut depth = 1;
        let close = rest
            .char_indices()
            .find(|(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("closing parenthesis");
        let chain = &rest[path_end + 1..close];
        for method in METHODS {
            let called = chain.match_indices(&format!("{method}(")).any(|(i, _)| {
                !chain[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            });
            if called && !path.starts_with("/internal/") {
                routes.insert((path.clone(), method.to_string()));
            }
        }
    }
    routes
}

#[test]
fn document_is_openapi_3_1_with_bearer_auth_and_complete_operations() {
    let doc = document();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "not OpenAPI 3.1: {}",
        doc["openapi"]
    );
    assert!(
        doc["info"]["title"].is_string() && doc["info"]["version"].is_string(),
        "info needs title and version"
    );

    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("components.securitySchemes");
    let bearer: Vec<&String> = schemes
        .iter()
        .filter(|(_, s)| {
            s["type"] == "http"
                && s["scheme"]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case("bearer"))
        })
        .map(|(name, _)| name)
        .collect();
    assert_eq!(bearer.len(), 1, "one http bearer security scheme");
    assert_eq!(
        doc["security"],
        json!([{ bearer[0].as_str(): [] }]),
        "bearer auth applies by default"
    );

    // Every $ref resolves; money is never a JSON number.
    walk(&doc, &mut |value| {
        if let Some(reference) = value.get("$ref") {
            let pointer = reference
                .as_str()
                .and_then(|r| r.strip_prefix('#'))
                .expect("local $ref");
            assert!(doc.pointer(pointer).is_some(), "dangling $ref {reference}");
        }
        let number = |t: &Value| t == "number";
        if let Some(t) = value.get("type").filter(|t| t.is_string() || t.is_array()) {
            assert!(
                !number(t) && !t.as_array().is_some_and(|ts| ts.iter().any(number)),
                "a schema uses type number: {value}"
            );
        }
        for (name, schema) in value
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if AMOUNT_FIELDS.contains(&name.as_str()) {
                let types = schema_types(&doc, schema);
                assert!(
                    types.contains("string") && types.iter().all(|t| t == "string" || t == "null"),
                    "{name} must be a decimal string, is {types:?}"
                );
            }
        }
    });
    for name in ["Amount", "AmountInput"] {
        let amount = &doc["components"]["schemas"][name];
        assert!(
            amount["type"] == "string" && amount["pattern"].is_string(),
            "{name} is a string with a decimal pattern"
        );
    }

    let mut ids = BTreeSet::new();
    let mut public = BTreeSet::new();
    for (path, method, operation) in operations(&doc) {
        let what = format!("{} {path}", method.to_uppercase());
        let id = operation["operationId"]
            .as_str()
            .filter(|id| !id.is_empty());
        assert!(
            ids.insert(id.unwrap_or_else(|| panic!("{what} has no operationId"))),
            "{what}: duplicate operationId"
        );
        let responses = operation["responses"].as_object().filter(|r| !r.is_empty());
        let responses = responses.unwrap_or_else(|| panic!("{what} has no responses"));
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{what} has no 2xx response"
        );
        for (status, response) in responses {
            let response = resolve(&doc, response);
            assert!(
                response["description"].is_string(),
                "{what} {status} has no description"
            );
            // The codes a problem may carry are listed in its description too.
            let schema = &response["content"]["application/problem+json"]["schema"];
            for part in schema["allOf"].as_array().into_iter().flatten() {
                for code in part["properties"]["code"]["enum"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let code = code.as_str().expect("code");
                    let description = response["description"].as_str().unwrap_or_default();
                    assert!(
                        description.contains(&format!("`{code}`")),
                        "{what} {status}: {code} is not in the description"
                    );
                }
            }
        }
        if operation.get("security") == Some(&json!([])) {
            public.insert(path.clone());
        } else {
            assert!(
                operation.get("security").is_none(),
                "{what} overrides security"
            );
            assert!(
                responses.contains_key("401"),
                "{what} is authenticated but documents no 401"
            );
        }
        let params = parameters(&doc, operation);
        for name in path_params(&path) {
            let param = params
                .iter()
                .find(|p| p["in"] == "path" && p["name"] == name);
            let param =
                param.unwrap_or_else(|| panic!("{what} does not declare path parameter {name}"));
            assert_eq!(
                param["required"], true,
                "{what}: path parameter {name} must be required"
            );
            assert!(
                param.get("example").is_some(),
                "{what}: path parameter {name} needs an example"
            );
        }
        for param in &params {
            assert!(
                param["schema"].is_object(),
                "{what}: parameter {} has no schema",
                param["name"]
            );
        }
        // A body that is a file (a statement) has no JSON example.
        let json_body = operation.get("requestBody").filter(|body| {
            resolve(&doc, body)["content"]
                .get("application/json")
                .is_some()
        });
        if let Some(body) = json_body {
            let media = &resolve(&doc, body)["content"]["application/json"];
            let examples = request_examples(&doc, operation);
            assert!(
                !examples.is_empty(),
                "{what}: the request body has no example"
            );
            for example in examples {
                conforms(&doc, &media["schema"], &example, "body")
                    .unwrap_or_else(|e| panic!("{what} example: {e}"));
            }
        }
        for (status, response) in responses {
            let media = &resolve(&doc, response)["content"]["application/json"];
            if let Some(example) = media.get("example") {
                conforms(&doc, &media["schema"], example, "answer")
                    .unwrap_or_else(|e| panic!("{what} {status} example: {e}"));
            }
        }
    }
    assert_eq!(
        public,
        PUBLIC
            .iter()
            .map(|p| p.to_string())
            .collect::<BTreeSet<_>>(),
        "unauthenticated operations"
    );

    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(path, method, _)| (path, method.to_string()))
        .collect();
    let routed = routes_in_source();
    assert!(
        routed.len() >= 20,
        "found only {} routes in src/http/mod.rs; is the scan still right?",
        routed.len()
    );
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from node/openapi.json: {undocumented:?}"
    );
}

/// The schema check above is not vacuous: it refuses what the node would.
#[test]
fn schema_check_refuses_what_the_document_forbids() {
    let doc = document();
    let schema = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let transfer = json!({"id": "T-1", "debit_account": "A", "credit_account": "B", "amount": "1.00", "currency": "CNY"});
    assert!(conforms(&doc, &schema("TransferRequest"), &transfer, "t").is_ok());
    let mut unknown = transfer.clone();
    unknown["debit"] = json!("A");
    let mut missing = transfer.clone();
    missing.as_object_mut().expect("object").remove("currency");
    let mut number = transfer.clone();
    number["amount"] = json!(1.0);
    for bad in [unknown, missing, number] {
        assert!(
            conforms(&doc, &schema("TransferRequest"), &bad, "t").is_err(),
            "accepted {bad}"
        );
    }
    assert!(conforms(&doc, &schema("AccountClass"), &json!("assets"), "c").is_err());
    let problem = &doc["paths"]["/v1/transfers"]["post"]["responses"]["409"]["content"]["application/problem+json"]
        ["schema"];
    let conflict = json!({"type": "t", "title": "Conflict", "status": 409, "code": "insufficient_funds", "detail": "d"});
    assert!(conforms(&doc, problem, &conflict, "p").is_ok());
    let undocumented = json!({"type": "t", "title": "Conflict", "status": 409, "code": "no_such_code", "detail": "d"});
    assert!(conforms(&doc, problem, &undocumented, "p").is_err());
}

/// One `clearledger-node` that bootstraps a single-node cluster, on an
/// ephemeral port with its data in a temp dir, killed when dropped.
struct Node {
    child: Child,
    port: u16,
    http: reqwest::blocking::Client,
    dir: tempfile::TempDir,
}

impl Node {
    fn start() -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("bind :0")
            .local_addr()
            .expect("addr")
            .port();
        let config = format!(
            "node_id = 1\nlisten = \"127.0.0.1:{port}\"\ndata_dir = {:?}\nadmin_key = {ADMIN_KEY:?}\nbootstrap = true\n",
            dir.path().join("data").display().to_string(),
        );
        let config_path = dir.path().join("node.toml");
        std::fs::write(&config_path, config).expect("write config");
        let log = std::fs::File::create(dir.path().join("node.log")).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_clearledger-node"));
        command.args(["run", "--config"]).arg(&config_path);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("CLEARLEDGER_") {
                command.env_remove(name);
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start clearledger-node");
        // reqwest is built with rustls but no default crypto provider.
        clearledger_node::install_crypto_provider();
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let mut node = Node {
            child,
            port,
            http,
            dir,
        };
        // The admin key works once this node leads and has registered it.
        let served = poll(Duration::from_secs(60), || {
            let answer = node
                .http
                .get(node.url("/v1/cluster"))
                .bearer_auth(ADMIN_KEY)
                .send();
            if let Ok(Some(status)) = node.child.try_wait() {
                panic!("clearledger-node exited with {status}:\n{}", node.log());
            }
            answer.is_ok_and(|a| a.status().is_success()).then_some(())
        });
        assert!(
            served.is_some(),
            "the node did not serve the admin key in time:\n{}",
            node.log()
        );
        node
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
    }

    /// Sends a request for the documented operation `method template` to
    /// `path`, and checks the answer against the document: a listed status,
    /// the listed content type, and a body that conforms to the listed schema
    /// (for a problem: one of the listed codes). Returns status and body.
    fn call(
        &self,
        doc: &Value,
        method: &str,
        template: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let what = format!("{} {path}", method.to_uppercase());
        let mut request = self.http.request(
            method.to_uppercase().parse().expect("method"),
            self.url(path),
        );
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = response.text().expect("body");
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_ne!(
            status, 405,
            "{what}: the router does not take this method:\n{text}"
        );
        assert!(
            !(status == 404 && answer["code"] == "no_such_route"),
            "{what}: the router has no such route"
        );
        let operation = &doc["paths"][template][method];
        let responses = &operation["responses"];
        let listed = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"));
        let listed = resolve(
            doc,
            listed.unwrap_or_else(|| {
                panic!("{what} answered {status}, which the document does not list:\n{text}")
            }),
        );
        let content = listed["content"].as_object().expect("content");
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        let media = content.get(media_type).unwrap_or_else(|| {
            panic!(
                "{what} answered {status} as {content_type:?}; the document lists {:?}:\n{text}",
                content.keys().collect::<Vec<_>>()
            )
        });
        if media_type == "application/json" || media_type.ends_with("+json") {
            conforms(doc, &media["schema"], &answer, "answer")
                .unwrap_or_else(|e| panic!("{what} answered {status}: {e}\n{text}"));
        }
        (status, answer)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn every_documented_operation_is_routed_by_a_real_node() {
    let doc = document();
    let node = Node::start();

    let served = node
        .http
        .get(node.url("/openapi.json"))
        .send()
        .expect("GET /openapi.json");
    assert_eq!(served.status().as_u16(), 200);
    let served = served.bytes().expect("body");
    let file = std::fs::read(DOCUMENT).expect("read node/openapi.json");
    assert!(
        served.as_ref() == file.as_slice(),
        "GET /openapi.json does not serve node/openapi.json as it is"
    );

    // The branch the other examples name, so that they get past "not found".
    let branch = request_examples(&doc, &doc["paths"]["/v1/branches"]["post"]).remove(0);
    let (status, answer) = node.call(
        &doc,
        "post",
        "/v1/branches",
        "/v1/branches",
        Some(ADMIN_KEY),
        Some(&branch),
    );
    assert_eq!(status, 200, "{answer}");

    let mut answered = BTreeMap::new();
    for (template, method, operation) in operations(&doc) {
        let mut path = template.clone();
        for param in parameters(&doc, operation)
            .into_iter()
            .filter(|p| p["in"] == "path")
        {
            let example = match &param["example"] {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            path = path.replace(
                &format!("{{{}}}", param["name"].as_str().expect("name")),
                &example,
            );
        }
        let authenticated = operation.get("security") != Some(&json!([]));
        let (status, answer) = node.call(&doc, method, &template, &path, None, None);
        if authenticated {
            assert_eq!(
                (status, answer["code"].as_str()),
                (401, Some("unauthorized")),
                "{method} {path} without a key"
            );
        }
        let membership = MEMBERSHIP_CHANGES.contains(&template.as_str());
        let bodies: Vec<Option<Value>> = match request_examples(&doc, operation) {
            _ if membership => vec![Some(json!({}))],
            examples if examples.is_empty() => vec![None],
            examples => examples.into_iter().map(Some).collect(),
        };
        for body in bodies {
            let (status, answer) = node.call(
                &doc,
                method,
                &template,
                &path,
                Some(ADMIN_KEY),
                body.as_ref(),
            );
            let code = answer["code"].as_str().unwrap_or_default();
            if membership {
                assert_eq!(
                    (status, code),
                    (400, "invalid_body"),
                    "{method} {path} with {{}}"
                );
            } else if body.is_some() {
                assert!(
                    !["malformed_json", "invalid_body"].contains(&code),
                    "{method} {path}: the example is refused: {answer}"
                );
            }
            answered.insert(format!("{} {path}", method.to_uppercase()), status);
        }
    }
    let ok = answered.values().filter(|status| **status == 200).count();
    assert!(
        ok >= 15,
        "too few documented calls succeeded with the admin key: {answered:#?}"
    );

    // Money moving, with the answers' shapes checked against the document.
    let principal =
        json!({"name": "openapi-op", "role": "operator", "authority": 1, "key": OPERATOR_KEY});
    assert_eq!(
        node.call(
            &doc,
            "post",
            "/v1/principals",
            "/v1/principals",
            Some(ADMIN_KEY),
            Some(&principal)
        )
        .0,
        200
    );
    let branch_code = branch["code"].as_str().expect("code");
    for (id, class) in [("OA-CASH", "asset"), ("OA-CUST", "liability")] {
        let account = json!({"id": id, "branch": branch_code, "currency": "CNY", "class": class});
        assert_eq!(
            node.call(
                &doc,
                "post",
                "/v1/accounts",
                "/v1/accounts",
                Some(OPERATOR_KEY),
                Some(&account)
            )
            .0,
            200
        );
    }
    let transfer = json!({"id": "OA-T1", "debit_account": "OA-CASH", "credit_account": "OA-CUST", "amount": "12.50", "currency": "CNY"});
    let (status, answer) = node.call(
        &doc,
        "post",
        "/v1/transfers",
        "/v1/transfers",
        Some(OPERATOR_KEY),
        Some(&transfer),
    );
    assert_eq!(
        (status, &answer["results"][0]["status"]),
        (200, &json!("posted")),
        "{answer}"
    );
    let (status, answer) = node.call(
        &doc,
        "get",
        "/v1/accounts/{id}",
        "/v1/accounts/OA-CUST",
        Some(OPERATOR_KEY),
        None,
    );
    assert_eq!(
        (status, &answer["balance"]["posted"]),
        (200, &json!("12.50")),
        "{answer}"
    );
    let (status, _) = node.call(
        &doc,
        "get",
        "/v1/entries/{id}",
        "/v1/entries/OA-T1",
        Some(OPERATOR_KEY),
        None,
    );
    assert_eq!(status, 200);
    let pending = json!({"id": "OA-T2", "debit_account": "OA-CASH", "credit_account": "OA-CUST", "amount": "1.00", "currency": "CNY", "pending": true});
    let batch = json!({"transfers": [pending, {"id": "OA-T3", "debit_account": "OA-CASH", "credit_account": "OA-CUST", "amount": "1.001", "currency": "CNY"}]});
    let (status, answer) = node.call(
        &doc,
        "post",
        "/v1/transfers",
        "/v1/transfers",
        Some(OPERATOR_KEY),
        Some(&batch),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (
            &answer["results"][0]["status"],
            &answer["results"][1]["code"]
        ),
        (&json!("pending"), &json!("amount_precision"))
    );
    assert_eq!(
        node.call(
            &doc,
            "get",
            "/v1/approvals",
            "/v1/approvals",
            Some(OPERATOR_KEY),
            None
        )
        .0,
        200
    );
    let (status, answer) = node.call(
        &doc,
        "post",
        "/v1/entries/{id}/approve",
        "/v1/entries/OA-T2/approve",
        Some(OPERATOR_KEY),
        None,
    );
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("approver_is_poster"))
    );
    let reason = json!({"reason": "test"});
    let (status, answer) = node.call(
        &doc,
        "post",
        "/v1/entries/{id}/reject",
        "/v1/entries/OA-T2/reject",
        Some(OPERATOR_KEY),
        Some(&reason),
    );
    assert_eq!(
        (status, &answer["status"]),
        (200, &json!("voided")),
        "{answer}"
    );
    let reversal = json!({"id": "OA-T1-REV", "reason": "test"});
    let (status, answer) = node.call(
        &doc,
        "post",
        "/v1/entries/{id}/reverse",
        "/v1/entries/OA-T1/reverse",
        Some(OPERATOR_KEY),
        Some(&reversal),
    );
    assert_eq!(
        (status, &answer["reverses"]),
        (200, &json!("OA-T1")),
        "{answer}"
    );
    let big = json!({"id": "OA-T4", "debit_account": "OA-CASH", "credit_account": "OA-CASH", "amount": "5.00", "currency": "CNY"});
    let (status, answer) = node.call(
        &doc,
        "post",
        "/v1/transfers",
        "/v1/transfers",
        Some(OPERATOR_KEY),
        Some(&big),
    );
    assert_eq!(
        (status, answer["code"].as_str()),
        (422, Some("accounts_must_be_different")),
        "{answer}"
    );
}
