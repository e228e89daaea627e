/**
 * `patrol start` end to end: a real process on the embedded PGlite (or a fresh PostgreSQL database when
 * DATABASE_URL is set), driven over HTTP as an operator would, then stopped with SIGTERM.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.js";
import { fingerprint } from "../src/tokens/index.js";
import { createScratchDatabase } from "./support/database.js";

const CLI = path.resolve("dist/src/cli/main.js");
const ADMIN_KEY = randomBytes(24).toString("hex");

describe("patrol start", () => {
  let dataDir: string;
  let child: ChildProcess;
  let base: string;
  let stderr = "";
  let database: { url: string; drop(): Promise<void> } | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), "patrol-web-"));
    const { databaseUrl } = loadConfig();
    if (databaseUrl) database = await createScratchDatabase(databaseUrl);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: "0",
      PATROL_DATA_DIR: dataDir,
      PATROL_ADMIN_KEY: ADMIN_KEY,
      LOG_LEVEL: "warn",
    };
    if (database) env.DATABASE_URL = database.url;
    else delete env.DATABASE_URL;
    child = spawn(process.execPath, [CLI, "start"], { env, stdio: ["ignore", "ignore", "pipe"] });
    base = await new Promise<string>((resolve, reject) => {
      child.stderr!.setEncoding("utf8");
      child.stderr!.on("data", (d: string) => {
        stderr += d;
        const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(stderr);
        if (m) resolve(m[1]);
      });
      child.on("exit", (code) => reject(new Error(`patrol start exited with ${code}: ${stderr}`)));
    });
  }, 60_000);

  afterAll(async () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const admin = (method: string, url: string, body?: unknown) =>
    fetch(`${base}${url}`, {
      method,
      headers: { "x-patrol-admin-key": ADMIN_KEY, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it("answers health and readiness and serves the OpenAPI document", async () => {
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: "ok" });
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ status: "ready" });
    const openapi = (await (await fetch(`${base}/_apis/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(openapi.paths)).toContain("/{organization}/_apis/tokens/pats");
  });

  it("issues a PAT through the API that authenticates, that patrol scan finds, and that stops working once revoked", async () => {
    expect((await admin("POST", "/_apis/patrol/tenants", { name: "acme" })).status).toBeLessThan(300);
    expect(
      (await admin("POST", "/_apis/patrol/tenants/acme/organizations", { name: "acme-web" })).status,
    ).toBeLessThan(300);
    const email = "dev@acme.example";
    expect(
      (await admin("POST", "/_apis/patrol/tenants/acme/users", { email, displayName: "Dev" })).status,
    ).toBeLessThan(300);
    const validTo = new Date(Date.now() + 7 * 86400_000).toISOString();
    const created = await admin(
      "POST",
      `/acme-web/_apis/tokens/pats?api-version=7.1-preview.1&user=${encodeURIComponent(email)}`,
      { displayName: "ci", scope: "vso.code", validTo, allOrgs: false },
    );
    expect(created.status).toBe(200);
    const { patToken, patTokenError } = (await created.json()) as {
      patToken: { token: string; authorizationId: string };
      patTokenError: string;
    };
    expect(patTokenError).toBe("none");
    const token: string = patToken.token;

    const basic = { authorization: `Basic ${Buffer.from(`any:${token}`).toString("base64")}` };
    expect((await fetch(`${base}/acme-web/_apis/connectionData`, { headers: basic })).status).toBe(200);

    const leaked = path.join(dataDir, "leak.txt");
    writeFileSync(leaked, `export AZURE_DEVOPS_EXT_PAT=${token}\n`);
    const scan = spawnSync(process.execPath, [CLI, "scan", "--files", leaked, "--format", "jsonl"], {
      encoding: "utf8",
    });
    expect(scan.status).toBe(1);
    expect(JSON.parse(scan.stdout).fingerprint).toBe(fingerprint(token));

    expect(
      (await admin("POST", `/_apis/patrol/pats/${patToken.authorizationId}/revoke`, {})).status,
    ).toBeLessThan(300);
    expect((await fetch(`${base}/acme-web/_apis/connectionData`, { headers: basic })).status).toBe(401);
  });

  it("stops cleanly on SIGTERM", async () => {
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stderr).not.toMatch(/"level":(50|60)/);
  });
});

describe("patrol start with bad configuration", () => {
  it("refuses to start and says why", () => {
    const r = spawnSync(process.execPath, [CLI, "start"], {
      encoding: "utf8",
      env: { ...process.env, PORT: "not-a-port", PATROL_ADMIN_KEY: "short" },
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/PORT/);
  });
});
