#!/usr/bin/env python3
"""Writes docs/api-reference.md from node/openapi.json.

    python3 scripts/api-reference.py           # (re)write docs/api-reference.md
    python3 scripts/api-reference.py --check   # exit 1 if it is not what would be written now

Only the standard library. The output is deterministic: JSON objects (paths,
responses, properties, schemas, examples) are walked in sorted order; JSON
arrays (tags, parameters, enums, required) keep the document's order.
"""

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "node" / "openapi.json"
TARGET = ROOT / "docs" / "api-reference.md"

METHODS = ["get", "put", "post", "patch", "delete", "head", "options", "trace"]
NESTING_LIMIT = 4
# "Codes: `a`, `b`." in a response's description: the error codes it may carry.
CODES_SENTENCE = re.compile(r"\s*Codes?:\s*((?:`[a-z0-9_<>]+`(?:,\s*|\s+and\s+|\s+or\s+)?)+)\.?")


class SpecError(Exception):
    """The OpenAPI document is not what this script can read."""


def cell(text):
    """Text fit for one Markdown table cell."""
    text = str(text).strip()
    text = re.sub(r"\n\s*\n", "<br><br>", text)
    text = text.replace("\n", " ").replace("|", "\\|")
    return text or " "


def code(value):
    """A JSON value as inline code."""
    return "`" + json.dumps(value, ensure_ascii=False) + "`"


def anchor(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def schema_anchor(name):
    return "schema-" + anchor(name)


def op_anchor(method, path):
    return anchor(method + " " + path)


class Reference:
    def __init__(self, doc):
        self.doc = doc
        self.components = doc.get("components", {})
        self.schemas = self.components.get("schemas", {})
        self.out = []

    # ----- $ref handling -----

    def resolve(self, ref):
        if not ref.startswith("#/"):
            raise SpecError(f"only local $refs are supported, found {ref!r}")
        node = self.doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise SpecError(f"$ref {ref!r} points at nothing")
            node = node[part]
        return node

    def deref(self, node):
        """Follows $refs until a node without one (for parameters, responses, bodies)."""
        seen = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                raise SpecError(f"$ref cycle at {ref!r}")
            seen.add(ref)
            node = self.resolve(ref)
        return node

    def schema_link(self, ref):
        name = ref.rsplit("/", 1)[-1]
        if ref.startswith("#/components/schemas/") and name in self.schemas:
            return f"[{name}](#{schema_anchor(name)})"
        return f"`{ref}`"

    def ref_target(self, schema):
        """The component schema a schema stands for: a $ref, or allOf of one $ref."""
        if not isinstance(schema, dict):
            return None
        if "$ref" in schema:
            return self.deref(schema)
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
            return self.deref(all_of[0])
        # `X or null`: the schema of X.
        for key in ("anyOf", "oneOf"):
            choices = schema.get(key)
            if isinstance(choices, list):
                refs = [c for c in choices if isinstance(c, dict) and "$ref" in c]
                others = [c for c in choices if c not in refs]
                if len(refs) == 1 and all(c == {"type": "null"} for c in others):
                    return self.deref(refs[0])
        return None

    # ----- schemas as text -----

    def type_of(self, schema):
        """A short type expression for a schema, with links to component schemas."""
        if not isinstance(schema, dict):
            return "any"
        if "$ref" in schema:
            return self.schema_link(schema["$ref"])
        for key, word in (("oneOf", " or "), ("anyOf", " or ")):
            if key in schema:
                return word.join(self.type_of(s) for s in schema[key])
        if "allOf" in schema:
            parts = [self.type_of(s) for s in schema["allOf"] if self.type_of(s) != "any"]
            own = {k: v for k, v in schema.items() if k in ("type", "enum", "const")}
            if own:
                parts.append(self.type_of(own))
            return " and ".join(parts) if parts else "any"
        if "const" in schema:
            return code(schema["const"])
        kinds = schema.get("type")
        if kinds is None:
            if "properties" in schema:
                kinds = "object"
            elif "enum" in schema:
                kinds = None
            else:
                return "any"
        kinds = kinds if isinstance(kinds, list) else [kinds]
        words = []
        for kind in kinds:
            if kind == "array":
                words.append("array of " + self.type_of(schema.get("items")))
            elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
                words.append("map of string to " + self.type_of(schema["additionalProperties"]))
            elif kind == "string" and "format" in schema:
                words.append(f"string ({schema['format']})")
            elif kind is not None:
                words.append(kind)
        text = " or ".join(words)
        if "enum" in schema:
            values = ", ".join(code(v) for v in schema["enum"])
            text = (text + ", one of " if text else "one of ") + values
        return text or "any"

    def constraints(self, schema):
        """Defaults, bounds and patterns, as a sentence."""
        if not isinstance(schema, dict):
            return ""
        notes = []
        if "default" in schema:
            notes.append("default " + code(schema["default"]))
        for key, word in (
            ("minimum", "minimum"),
            ("maximum", "maximum"),
            ("exclusiveMinimum", "greater than"),
            ("exclusiveMaximum", "less than"),
            ("minLength", "at least {} characters"),
            ("maxLength", "at most {} characters"),
            ("minItems", "at least {} items"),
            ("maxItems", "at most {} items"),
        ):
            if key in schema:
                if "{}" in word:
                    text = word.format(schema[key])
                    notes.append(text[:-1] if schema[key] == 1 else text)
                else:
                    notes.append(f"{word} {schema[key]}")
        if "pattern" in schema:
            notes.append(f"pattern `{schema['pattern']}`")
        if not notes:
            return ""
        return notes[0][0].upper() + "; ".join(notes)[1:] + "."

    def describe(self, schema, fallback=True):
        """A schema's description, or (following its $ref) its target's."""
        if not isinstance(schema, dict):
            return ""
        if schema.get("description"):
            return schema["description"]
        if fallback:
            target = self.ref_target(schema)
            if target is not None:
                return self.describe(target)
        return ""

    def fields(self, schema, prefix="", depth=0):
        """Rows (name, type, required, description) for an object schema's members.

        Inline objects and arrays of inline objects are flattened into
        dotted names; members that are component schemas are links.
        """
        rows = []
        if not isinstance(schema, dict) or depth > NESTING_LIMIT:
            return rows
        required = schema.get("required", [])
        for name in sorted(schema.get("properties", {})):
            prop = schema["properties"][name]
            text = self.describe(prop)
            extra = self.constraints(prop) or self.constraints(self.ref_target(prop))
            if extra:
                text = (text + " " + extra).strip()
            full = prefix + name
            rows.append((full, self.type_of(prop), "yes" if name in required else "no", text))
            rows.extend(self.nested(prop, full, depth))
        return rows

    def nested(self, prop, full, depth):
        if not isinstance(prop, dict) or "$ref" in prop:
            return []
        if "properties" in prop:
            return self.fields(prop, full + ".", depth + 1)
        items = prop.get("items")
        if isinstance(items, dict) and "properties" in items:
            return self.fields(items, full + "[].", depth + 1)
        return []

    def field_table(self, rows):
        self.emit("| field | type | required | description |")
        self.emit("| --- | --- | --- | --- |")
        for name, kind, req, text in rows:
            self.emit(f"| `{name}` | {cell(kind)} | {req} | {cell(text)} |")
        self.emit()

    def schema_body(self, schema):
        """The fields of a schema (following a top-level $ref), or its alternatives."""
        target = schema
        if isinstance(schema, dict) and "$ref" in schema:
            self.emit(f"Schema: {self.schema_link(schema['$ref'])}.")
            self.emit()
            target = self.deref(schema)
        for key, word in (("oneOf", "One of"), ("anyOf", "Any of")):
            if isinstance(target, dict) and key in target:
                self.emit(f"{word}:")
                self.emit()
                for alt in target[key]:
                    self.emit(f"- {self.type_of(alt)}")
                self.emit()
                for alt in target[key]:
                    rows = self.fields(self.deref(alt)) if "$ref" in alt else []
                    if rows:
                        self.emit(f"Fields of {self.schema_link(alt['$ref'])}:")
                        self.emit()
                        self.field_table(rows)
                return
        rows = self.fields(target)
        if rows:
            self.field_table(rows)
        elif not (isinstance(schema, dict) and "$ref" in schema):
            self.emit(f"Type: {self.type_of(target)}.")
            self.emit()

    # ----- output -----

    def emit(self, line=""):
        self.out.append(line)

    def example_block(self, value, media):
        if isinstance(value, str) and not media.endswith("json"):
            self.emit("```text")
            self.emit(value.replace("\r\n", "\n").rstrip("\n"))
        else:
            self.emit("```json")
            self.emit(json.dumps(value, indent=2, ensure_ascii=False))
        self.emit("```")
        self.emit()

    def examples(self, media_type, media, label):
        if "example" in media:
            self.emit(f"{label} (`{media_type}`):")
            self.emit()
            self.example_block(media["example"], media_type)
        for name in sorted(media.get("examples", {})):
            example = self.deref(media["examples"][name])
            title = example.get("summary") or name
            self.emit(f"{label} `{name}` — {title} (`{media_type}`):")
            self.emit()
            if "value" in example:
                self.example_block(example["value"], media_type)

    def error_codes(self, response):
        """Codes named in a response: `Codes: ...` in its description and code enums."""
        found = []
        description = response.get("description", "")
        for match in CODES_SENTENCE.finditer(description):
            found.extend(re.findall(r"`([a-z0-9_<>]+)`", match.group(1)))

        def walk(node):
            if isinstance(node, dict):
                props = node.get("properties")
                if isinstance(props, dict) and isinstance(props.get("code"), dict):
                    found.extend(v for v in props["code"].get("enum", []) if isinstance(v, str))
                for key in sorted(node):
                    if key != "$ref":
                        walk(node[key])
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        for media_type in sorted(response.get("content", {})):
            walk(response["content"][media_type].get("schema"))
        unique = []
        for item in found:
            if item not in unique:
                unique.append(item)
        return unique

    def auth(self, op):
        security = op.get("security", self.doc.get("security", []))
        if not security:
            return "none"
        schemes = self.components.get("securitySchemes", {})
        words = []
        for requirement in security:
            names = []
            for name in sorted(requirement):
                scheme = schemes.get(name, {})
                if scheme.get("type") == "http" and scheme.get("scheme") == "bearer":
                    names.append(f"`Authorization: Bearer <api key>` ({name})")
                else:
                    names.append(f"`{name}`")
            words.append(" and ".join(names) if names else "none")
        return " or ".join(words)

    def roles(self, op):
        match = re.search(r"\bRoles?:\s*(.+?\.)(?:\s|$)", op.get("description", ""))
        if match:
            return match.group(1)
        match = re.search(r"\b(Any role\.)", op.get("description", ""))
        return match.group(1) if match else None

    def operation(self, method, path, op):
        self.emit(f'<a id="{op_anchor(method, path)}"></a>')
        self.emit()
        self.emit(f"### `{method.upper()} {path}`")
        self.emit()
        if op.get("summary"):
            self.emit(f"**{op['summary']}**" + (f" (`{op['operationId']}`)" if op.get("operationId") else ""))
            self.emit()
        if op.get("deprecated"):
            self.emit("**Deprecated.**")
            self.emit()
        if op.get("description"):
            self.emit(op["description"].strip())
            self.emit()
        self.emit(f"- Auth: {self.auth(op)}")
        roles = self.roles(op)
        if roles:
            self.emit(f"- Roles: {roles}")
        self.emit()

        params = [self.deref(p) for p in op.get("parameters", [])]
        if params:
            self.emit("Parameters:")
            self.emit()
            self.emit("| name | in | required | type | description |")
            self.emit("| --- | --- | --- | --- | --- |")
            for param in params:
                schema = param.get("schema", {})
                text = param.get("description") or self.describe(schema)
                extra = self.constraints(schema) or self.constraints(self.ref_target(schema))
                if extra:
                    text = (text + " " + extra).strip()
                if "example" in param:
                    text = (text + " Example: " + code(param["example"]) + ".").strip()
                self.emit(
                    f"| `{param.get('name', '?')}` | {param.get('in', '?')} | "
                    f"{'yes' if param.get('required') else 'no'} | {cell(self.type_of(schema))} | {cell(text)} |"
                )
            self.emit()

        if "requestBody" in op:
            body = self.deref(op["requestBody"])
            kinds = ", ".join(f"`{m}`" for m in sorted(body.get("content", {})))
            self.emit(f"Request body ({'required' if body.get('required') else 'optional'}; {kinds}):"
                      + (" " + body["description"].strip() if body.get("description") else ""))
            self.emit()
            for media_type in sorted(body.get("content", {})):
                media = body["content"][media_type]
                if len(body["content"]) > 1:
                    self.emit(f"`{media_type}`:")
                    self.emit()
                if "schema" in media:
                    self.schema_body(media["schema"])
                self.examples(media_type, media, "Example request")

        responses = op.get("responses", {})
        if responses:
            self.emit("Responses:")
            self.emit()
            self.emit("| status | description | body | codes |")
            self.emit("| --- | --- | --- | --- |")
            for status in sorted(responses, key=status_key):
                response = self.deref(responses[status])
                bodies = []
                for media_type in sorted(response.get("content", {})):
                    schema = response["content"][media_type].get("schema")
                    shown = self.response_schema(schema)
                    bodies.append(f"`{media_type}`" + (f" {shown}" if shown else ""))
                codes = ", ".join(f"`{c}`" for c in self.error_codes(response))
                said = CODES_SENTENCE.sub("", response.get("description", "")).strip()
                self.emit(f"| {status} | {cell(said)} | "
                          f"{cell('<br>'.join(bodies))} | {cell(codes)} |")
            self.emit()
            for status in sorted(responses, key=status_key):
                if not str(status).startswith("2"):
                    continue
                response = self.deref(responses[status])
                for media_type in sorted(response.get("content", {})):
                    self.examples(media_type, response["content"][media_type], f"Example response {status}")

    def response_schema(self, schema):
        if not isinstance(schema, dict):
            return ""
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and all_of and "$ref" in all_of[0]:
            return self.schema_link(all_of[0]["$ref"])
        return self.type_of(schema)

    def component(self, name, schema):
        self.emit(f'<a id="{schema_anchor(name)}"></a>')
        self.emit()
        self.emit(f"### {name}")
        self.emit()
        if schema.get("description"):
            self.emit(schema["description"].strip())
            self.emit()
        facts = [f"Type: {self.type_of(schema) if 'properties' not in schema else 'object'}."]
        extra = self.constraints(schema)
        if extra:
            facts.append(extra)
        if schema.get("additionalProperties") is False:
            facts.append("Unknown members are refused.")
        if "example" in schema:
            facts.append("Example: " + code(schema["example"]) + ".")
        self.emit(" ".join(facts))
        self.emit()
        rows = self.fields(schema)
        if rows:
            self.field_table(rows)

    def render(self):
        info = self.doc.get("info", {})
        title = info.get("title", "API")
        self.emit(f"# {title}: reference")
        self.emit()
        self.emit("<!-- Generated by scripts/api-reference.py from node/openapi.json. Do not edit by hand: -->")
        self.emit("<!-- change the OpenAPI document, then run `python3 scripts/api-reference.py`. -->")
        self.emit()
        self.emit(
            f"Generated from [`node/openapi.json`](../node/openapi.json) (OpenAPI {self.doc.get('openapi', '?')}, "
            f"API version {info.get('version', '?')}), the document every node serves at `GET /openapi.json`. "
            "The prose guide with worked examples is [api.md](api.md)."
        )
        self.emit()
        if info.get("summary"):
            self.emit(info["summary"].strip())
            self.emit()
        if info.get("description"):
            self.emit(info["description"].strip())
            self.emit()
        servers = self.doc.get("servers", [])
        if servers:
            self.emit("Servers: " + "; ".join(
                f"`{s.get('url', '?')}`" + (f" ({s['description'].rstrip('.')})" if s.get("description") else "")
                for s in servers) + ".")
            self.emit()
        schemes = self.components.get("securitySchemes", {})
        for name in sorted(schemes):
            scheme = schemes[name]
            kind = scheme.get("type", "?") + (f" {scheme['scheme']}" if scheme.get("scheme") else "")
            self.emit(f"Security scheme `{name}` ({kind}): {scheme.get('description', '').strip()}")
            self.emit()

        groups = self.group()
        self.emit("## Contents")
        self.emit()
        for group, description, ops in groups:
            links = ", ".join(f"[`{m.upper()} {p}`](#{op_anchor(m, p)})" for m, p, _ in ops)
            self.emit(f"- **[{group}](#{anchor('tag ' + group)})**: {links}")
        self.emit(f"- **[Schemas](#schemas)**: {len(self.schemas)} component schemas")
        self.emit()

        for group, description, ops in groups:
            self.emit(f'<a id="{anchor("tag " + group)}"></a>')
            self.emit()
            self.emit(f"## {group}")
            self.emit()
            if description:
                self.emit(description.strip())
                self.emit()
            for method, path, op in ops:
                self.operation(method, path, op)

        self.emit("## Schemas")
        self.emit()
        self.emit("The component schemas, by name. A type that is a link is another schema below.")
        self.emit()
        for name in sorted(self.schemas):
            self.component(name, self.deref(self.schemas[name]))
        while self.out and self.out[-1] == "":
            self.out.pop()
        return "\n".join(self.out) + "\n"

    def group(self):
        """(name, description, [(method, path, op)]) in the document's tag order."""
        operations = []
        for path in sorted(self.doc.get("paths", {})):
            item = self.deref(self.doc["paths"][path])
            for method in METHODS:
                if method in item:
                    operations.append((method, path, item[method]))
        tags = self.doc.get("tags", [])
        use_tags = bool(tags) or any(op.get("tags") for _, _, op in operations)
        buckets = {}
        for method, path, op in operations:
            if use_tags:
                key = (op.get("tags") or ["Other"])[0]
            else:
                segments = [s for s in path.split("/") if s]
                if segments and re.fullmatch(r"v[0-9]+", segments[0]) and len(segments) > 1:
                    segments = segments[1:]
                key = "/" + segments[0] if segments else "/"
            buckets.setdefault(key, []).append((method, path, op))
        order = [t["name"] for t in tags if t.get("name") in buckets]
        order += sorted(k for k in buckets if k not in order)
        descriptions = {t.get("name"): t.get("description", "") for t in tags}
        return [(key, descriptions.get(key, ""), buckets[key]) for key in order]


def status_key(status):
    status = str(status)
    if status.isdigit():
        return (0, int(status), status)
    if re.fullmatch(r"[1-5]XX", status):
        return (0, int(status[0]) * 100 + 99, status)
    return (1, 0, status)


def main():
    parser = argparse.ArgumentParser(description="Write docs/api-reference.md from node/openapi.json.")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if docs/api-reference.md is not what would be written")
    args = parser.parse_args()
    try:
        doc = json.loads(SOURCE.read_text(encoding="utf-8"))
        text = Reference(doc).render()
    except (OSError, ValueError, SpecError) as error:
        print(f"api-reference: cannot read {SOURCE.relative_to(ROOT)}: {error}", file=sys.stderr)
        return 2
    target = TARGET.relative_to(ROOT)
    if args.check:
        current = TARGET.read_bytes().decode("utf-8", "replace") if TARGET.exists() else None
        if current == text:
            print(f"api-reference: {target} is up to date with node/openapi.json")
            return 0
        if current is None:
            print(f"api-reference: {target} is missing", file=sys.stderr)
        else:
            print(f"api-reference: {target} is not what node/openapi.json gives:", file=sys.stderr)
            diff = list(difflib.unified_diff(current.splitlines(), text.splitlines(),
                                             f"{target} (in the tree)", f"{target} (generated)", lineterm=""))
            for line in diff[:40]:
                print(line, file=sys.stderr)
            if len(diff) > 40:
                print(f"... ({len(diff) - 40} more diff lines)", file=sys.stderr)
        print("api-reference: run `python3 scripts/api-reference.py` and commit the result", file=sys.stderr)
        return 1
    TARGET.write_bytes(text.encode("utf-8"))
    print(f"api-reference: wrote {target} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
