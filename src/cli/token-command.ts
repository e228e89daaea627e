/** `patrol token mint|check`: developer tools for tests and demos. */
import { parseArgs } from "node:util";
import { fingerprint, mintAzdo, mintLegacy, parseToken, redact, tokenRejection } from "../tokens/index.js";
import { type CliIo, UsageError } from "./usage-error.js";

export const TOKEN_USAGE = `usage: patrol token mint [--legacy [--application]] [--long] [--count N]
       patrol token check TOKEN|- [--json]   (- reads tokens from stdin, one a line; exit 0 all valid, 1 not)`;

export async function runToken(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "mint") return mint(rest, io);
  if (sub === "check") return check(rest, io);
  throw new UsageError(sub ? `unknown token command: ${sub}` : "missing token command");
}

function mint(argv: string[], io: CliIo): number {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      legacy: { type: "boolean", default: false },
      application: { type: "boolean", default: false },
      long: { type: "boolean", default: false },
      count: { type: "string", default: "1" },
    },
  });
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 100_000)
    throw new UsageError("--count must be 1 to 100000");
  if (values.legacy && values.long) throw new UsageError("--long applies to the 84-character format only");
  if (values.application && !values.legacy)
    throw new UsageError("--application applies to --legacy tokens only");
  const mintOne = () =>
    values.legacy ? mintLegacy(values.application ? "application" : "user") : mintAzdo({ long: values.long });
  io.stdout.write(`${Array.from({ length: count }, mintOne).join("\n")}\n`);
  return 0;
}

async function check(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { json: { type: "boolean", default: false } },
  });
  if (positionals.length !== 1) throw new UsageError("token check takes exactly one TOKEN (or - for stdin)");
  const tokens =
    positionals[0] === "-"
      ? (await readAll(io.stdin))
          .split(/\r?\n/)
          .map((t) => t.trim())
          .filter((t) => t !== "")
      : [positionals[0]];
  if (tokens.length === 0) throw new UsageError("no token on stdin");
  let allValid = true;
  for (const [i, token] of tokens.entries()) {
    const fields = parseToken(token);
    const valid = fields !== null && (fields.format === "azdo-pat" || fields.checksumValid);
    allValid &&= valid;
    const report = {
      valid,
      ...(valid ? {} : { reason: tokenRejection(token) }),
      ...(fields ?? { format: null }),
      ...(fields ? { fingerprint: fingerprint(token), redacted: redact(token) } : {}),
    };
    if (values.json) io.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      if (i > 0) io.stdout.write("\n");
      for (const [k, v] of Object.entries(report)) io.stdout.write(`${k}: ${v}\n`);
    }
  }
  return allValid ? 0 : 1;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  return text;
}
