/**
 * The benchmark corpus: real text files from this machine rendered as one added-lines diff (as GitHub
 * and `git log -p` would show them being added), with tokens of every form planted on known lines.
 */
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { fingerprint, mintAzdo, mintLegacy } from "../src/tokens/index.js";

export interface Planted {
  fingerprint: string;
  format: "azdo-pat" | "azdo-pat-legacy";
  encoding: "plain" | "base64" | "basic-auth" | "url";
  path: string;
  line: number;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** Lines that carry a token in each form the detector knows; `e` is the encoding it should report. */
const FORMS: ((
  azdo: string,
  legacy: string,
) => { line: string; token: string; encoding: Planted["encoding"] })[] = [
  (a) => ({ line: `const key = "${a}";`, token: a, encoding: "plain" }),
  (_a, l) => ({ line: `pat: ${l}`, token: l, encoding: "plain" }),
  () => {
    const long = mintAzdo({ long: true });
    return { line: `AZURE_DEVOPS_EXT_PAT=${long}`, token: long, encoding: "plain" };
  },
  () => {
    const app = mintLegacy("application");
    return { line: `token=${app}`, token: app, encoding: "plain" };
  },
  (a) => ({ line: `Authorization: Basic ${b64(`build:${a}`)}`, token: a, encoding: "basic-auth" }),
  (_a, l) => ({ line: `  -H "Authorization: Basic ${b64(`:${l}`)}"`, token: l, encoding: "basic-auth" }),
  (a) => ({
    line: `git -c http.extraheader="AUTHORIZATION: basic ${b64(`:${a}`)}" clone https://dev.azure.com/o/p/_git/r`,
    token: a,
    encoding: "basic-auth",
  }),
  (a) => ({
    line: `//pkgs.dev.azure.com/o/_packaging/f/npm/registry/:_password=${b64(a)}`,
    token: a,
    encoding: "base64",
  }),
  (_a, l) => ({ line: `_auth=${b64(`org:${l}`)}`, token: l, encoding: "base64" }),
  (a) => ({ line: `{"auths":{"o.azurecr.io":{"auth":"${b64(`us:${a}`)}"}}}`, token: a, encoding: "base64" }),
  (_a, l) => ({ line: `  password: ${b64(l)}`, token: l, encoding: "base64" }),
  (a) => ({
    line: `  .dockerconfigjson: ${b64(JSON.stringify({ auths: { "r.io": { auth: b64(`u:${a}`) } } }))}`,
    token: a,
    encoding: "base64",
  }),
  (a) => ({ line: `remote = https://me:${a}@dev.azure.com/o/p/_git/r`, token: a, encoding: "url" }),
  (_a, l) => ({ line: `url: https://${l}@dev.azure.com/o`, token: l, encoding: "url" }),
];

function* walk(dir: string): Generator<string> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  entries.sort((x, y) => (x.name < y.name ? -1 : 1));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== ".git") yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

export interface CorpusOptions {
  file: string;
  roots: string[];
  sizeBytes: number;
  /** One planted token every this many files. */
  plantEvery: number;
}

/** Builds the corpus (or reuses one of the right size) and returns what was planted where. */
export function buildCorpus(options: CorpusOptions): { file: string; size: number; planted: Planted[] } {
  const expectedFile = `${options.file}.planted.json`;
  if (
    existsSync(options.file) &&
    existsSync(expectedFile) &&
    statSync(options.file).size >= options.sizeBytes
  ) {
    return {
      file: options.file,
      size: statSync(options.file).size,
      planted: JSON.parse(readFileSync(expectedFile, "utf8")),
    };
  }
  const out = openSync(options.file, "w");
  const planted: Planted[] = [];
  let size = 0;
  let files = 0;
  let sections = 0;
  const roots = options.roots.filter((r) => existsSync(r));
  if (roots.length === 0) throw new Error(`none of the corpus roots exist: ${options.roots.join(", ")}`);
  for (let round = 0; size < options.sizeBytes; round++) {
    let grew = false;
    for (const root of roots) {
      for (const file of walk(root)) {
        if (size >= options.sizeBytes) break;
        let bytes: Buffer;
        try {
          bytes = readFileSync(file);
        } catch {
          continue;
        }
        // Text only: what git would not call binary, and not huge.
        if (bytes.length === 0 || bytes.length > 8_000_000 || bytes.subarray(0, 8000).includes(0)) continue;
        files++;
        const lines = bytes.toString("latin1").split("\n");
        if (lines[lines.length - 1] === "") lines.pop();
        if (lines.length === 0) continue;
        const rel = `${round > 0 ? `round-${round}/` : ""}${path.relative("/", file)}`;
        if (files % options.plantEvery === 0) {
          const form = FORMS[sections++ % FORMS.length](mintAzdo(), mintLegacy());
          const at = files % (lines.length + 1);
          lines.splice(at, 0, form.line);
          planted.push({
            fingerprint: fingerprint(form.token),
            format: form.token.length === 52 ? "azdo-pat-legacy" : "azdo-pat",
            encoding: form.encoding,
            path: rel,
            line: at + 1,
          });
        }
        const header = `diff --git a/${rel} b/${rel}\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/${rel}\n@@ -0,0 +1,${lines.length} @@\n`;
        const body = Buffer.from(`${header}+${lines.join("\n+")}\n`, "latin1");
        writeSync(out, body);
        size += body.length;
        grew = true;
      }
    }
    if (!grew) break;
  }
  closeSync(out);
  writeFileSync(expectedFile, JSON.stringify(planted));
  return { file: options.file, size, planted };
}
