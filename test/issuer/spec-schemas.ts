/**
 * Azure DevOps' published Swagger 2.0 definitions (test/issuer/azure-devops-spec, see its README) as Ajv
 * validators. Two readings make them usable as JSON Schema, both as the generated .NET clients read them:
 * every property may be null (the service sends `"token": null`, `"targetAccounts": null`), and a property typed
 * `object` under `additionalProperties` is any JSON value (C# `object`). Objects may carry no property the
 * definition does not name: patrol's answers must not drift from the contract.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

const SPEC_DIR = path.resolve("test/issuer/azure-devops-spec");

type Json = Record<string, unknown>;

export function readSpec(relative: string): Json {
  return JSON.parse(readFileSync(path.join(SPEC_DIR, relative), "utf8").replace(/^\uFEFF/, "")) as Json;
}

function nullable(schema: Json): Json {
  if (schema.$ref !== undefined) return { anyOf: [schema, { type: "null" }] };
  const out: Json = { ...schema };
  if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
  if (typeof out.type === "string") out.type = [out.type, "null"];
  return out;
}

function convert(schema: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key.startsWith("x-ms-") || key === "description") continue;
    if (key === "$ref" && typeof value === "string") out.$ref = value.replace("#/definitions/", "#/$defs/");
    else if (key === "properties") {
      out.properties = Object.fromEntries(
        Object.entries(value as Record<string, Json>).map(([name, p]) => [name, nullable(convert(p))]),
      );
    } else if (key === "items") out.items = convert(value as Json);
    else if (key === "allOf") out.allOf = (value as Json[]).map(convert);
    else if (key === "additionalProperties") {
      const inner = value as Json;
      out.additionalProperties = inner.type === "object" && !inner.properties ? true : convert(inner);
    } else out[key] = value;
  }
  if (out.properties && out.additionalProperties === undefined && !out.allOf)
    out.additionalProperties = false;
  return out;
}

/** A validator for one definition of a spec file, e.g. `validator("tokens/7.1/tokens.json", "PatTokenResult")`. */
export function validator(file: string, definition: string): ValidateFunction {
  const spec = readSpec(file);
  const $defs = Object.fromEntries(
    Object.entries(spec.definitions as Record<string, Json>).map(([name, d]) => [name, convert(d)]),
  );
  const ajv = new Ajv({ strict: false, allErrors: true });
  (addFormatsModule as unknown as (a: Ajv) => void)(ajv);
  return ajv.compile({ $defs, $ref: `#/$defs/${definition}` });
}

/** Asserts `value` against a validator, with Ajv's errors as the message. */
export function conforms(validate: ValidateFunction, value: unknown): string | null {
  return validate(value) ? null : JSON.stringify(validate.errors?.slice(0, 5));
}

/** The enum of a definition's property, e.g. SessionTokenError from PatTokenResult.patTokenError. */
export function specEnum(file: string, definition: string, property: string): string[] {
  const spec = readSpec(file) as { definitions: Record<string, { properties: Record<string, Json> }> };
  return spec.definitions[definition].properties[property].enum as string[];
}
