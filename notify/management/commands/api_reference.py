"""`python manage.py api_reference > docs/api-reference.md`: every endpoint's parameters,
request fields and response fields, generated from the OpenAPI schema so the docs cannot
drift (tests/test_docs.py fails when the committed file differs)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from drf_spectacular.generators import SchemaGenerator

METHODS = ("get", "post", "put", "patch", "delete")
COLUMN_LIMITS = {32767, 32768, 2147483647, 2147483648, 9223372036854775807, 9223372036854775808}
HEADER = """# API reference

Generated from the OpenAPI schema (`/api/schema/`) by `python manage.py api_reference >
docs/api-reference.md`; do not edit by hand. The overview, with examples, is
[api.md](api.md). Authentication: `Authorization: Api-Key <key>` unless noted.
"""


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


class Reference:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.components = schema.get("components", {}).get("schemas", {})
        self.enums: dict[str, list] = {}
        self.objects: set[str] = set()

    def resolve(self, node: dict) -> tuple[str | None, dict]:
        ref = node.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[1]
            return name, self.components.get(name, {})
        return None, node

    def type_of(self, node: dict) -> str:
        name, target = self.resolve(node)
        if name and "enum" in target:
            values = [v for v in target["enum"] if v not in ("", None)]
            if not values:
                return '`""`'
            self.enums[name] = values
            return f"[{name}](#enums)"
        if name:
            self.objects.add(name)
            return f"[{name}](#{name.lower()})"
        if "oneOf" in node or "anyOf" in node:
            return " or ".join(self.type_of(n) for n in node.get("oneOf") or node["anyOf"])
        if "allOf" in node and len(node["allOf"]) == 1:
            return self.type_of(node["allOf"][0])
        kind = node.get("type", "any")
        if kind == "array":
            return f"array of {self.type_of(node.get('items', {}))}"
        if "enum" in node:
            return " \\| ".join(f"`{v}`" for v in node["enum"] if v not in ("", None))
        if node.get("format") and node["format"] not in ("int32", "int64"):
            return f"{kind} ({node['format']})"
        return kind

    def fields(self, node: dict, *, writing: bool) -> list[str]:
        _, target = self.resolve(node)
        if target.get("type") == "array":
            _, target = self.resolve(target.get("items", {}))
        props = target.get("properties", {})
        alternatives = target.get("oneOf") or target.get("anyOf")
        if not props and alternatives:  # e.g. the send's answer: to receivers or to an audience
            return ["One of: " + " or ".join(self.type_of(n) for n in alternatives) + "."]
        if not props:
            return []
        required = set(target.get("required", []))
        rows = ["| field | type | required | description |", "|---|---|---|---|"]
        for name, prop in props.items():
            if writing and prop.get("readOnly"):
                continue
            extra = []
            if prop.get("nullable"):
                extra.append("nullable")
            for bound in ("minimum", "maximum", "maxLength"):
                # Integer column limits differ per database (SQLite/PostgreSQL): left out.
                if bound in prop and abs(prop[bound]) not in COLUMN_LIMITS:
                    extra.append(f"{bound} {prop[bound]}")
            description = "; ".join(filter(None, [_one_line(prop.get("description")), ", ".join(extra)]))  # fmt: skip
            rows.append(
                f"| `{name}` | {self.type_of(prop)} | {'yes' if name in required else ''} | {description} |"  # fmt: skip
            )
        return rows

    def operation(self, path: str, method: str, op: dict) -> list[str]:
        out = [f"### `{method.upper()} {path}`", ""]
        if op.get("description"):
            out += [_one_line(op["description"]), ""]
        if op.get("security") == [{}] or not op.get("security", [{"x": []}]):
            out += ["No authentication.", ""]
        params = op.get("parameters", [])
        if params:
            out += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
            for p in params:
                out.append(
                    f"| `{p['name']}` | {p['in']} | {self.type_of(p.get('schema', {}))} | "
                    f"{'yes' if p.get('required') else ''} | {_one_line(p.get('description'))} |"
                )
            out.append("")
        body = op.get("requestBody", {}).get("content", {})
        for content_type, media in body.items():
            name, _ = self.resolve(media.get("schema", {}))
            out += [f"Request body ({content_type}){f': `{name}`' if name else ''}", ""]
            rows = self.fields(media.get("schema", {}), writing=True)
            out += [*rows, ""] if rows else []
            break  # the other content types carry the same serializer
        for status, response in sorted(op.get("responses", {}).items()):
            media = response.get("content", {}).get("application/json")
            if not media:
                out += [f"Response {status}{': ' + _one_line(response.get('description')) if response.get('description') else ''}", ""]  # fmt: skip
                continue
            name, _ = self.resolve(media.get("schema", {}))
            out += [f"Response {status}: {self.type_of(media.get('schema', {}))}", ""]
            if name == "Error":
                continue  # one shape for every error, described once under Objects
            rows = self.fields(media.get("schema", {}), writing=False)
            out += [*rows, ""] if rows else []
        return out

    def render(self) -> str:
        out = [HEADER]
        groups: dict[str, list[str]] = {}
        for path, ops in sorted(self.schema.get("paths", {}).items()):
            section = path.removeprefix("/api/v1/").split("/", 1)[0].split("{", 1)[0] or "api"
            for method in METHODS:
                if method in ops:
                    groups.setdefault(section, []).extend(self.operation(path, method, ops[method]))  # fmt: skip
        for section, lines in groups.items():
            out += [f"## {section}", "", *lines]
        out += ["## Objects", ""]
        done: set[str] = set()
        while self.objects - done:  # rendering one may reference more
            for name in sorted(self.objects - done):
                done.add(name)
                rows = self.fields({"$ref": f"#/components/schemas/{name}"}, writing=name.endswith("Request"))  # fmt: skip
                if name == "Error":
                    rows = ["Every error response has this shape.", "", *rows]
                out += [f"### {name}", "", *rows, ""]
        out += ["## Enums", ""]
        for name, values in sorted(self.enums.items()):
            out.append(f"- `{name}`: " + ", ".join(f"`{v}`" for v in values))
        return "\n".join(out).rstrip() + "\n"


def api_reference() -> str:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return Reference(schema).render()


class Command(BaseCommand):
    help = "Print the API reference (markdown) generated from the OpenAPI schema."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(api_reference(), ending="")
