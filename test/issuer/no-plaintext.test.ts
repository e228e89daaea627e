/**
 * The store keeps only SHA-256 fingerprints: after a full lifecycle, no token appears anywhere in the database
 * (every table, every column, as text), in the logs, or in the files of an embedded database on disk.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { buildIssuerServer, openIssuerStore } from "../../src/issuer/index.js";
import { fingerprint } from "../../src/tokens/index.js";
import {
  ADMIN,
  ADMIN_KEY,
  asUser,
  inDays,
  openTestIssuer,
  seedTenant,
  type TestIssuer,
} from "../support/issuer.js";

let issuer: TestIssuer;

beforeAll(async () => {
  issuer = await openTestIssuer();
});
afterAll(async () => {
  await issuer.close();
});

/** Every row of every table in the public schema, as Postgres renders it to text. */
async function dumpDatabase(): Promise<string> {
  const { rows: tables } = await issuer.store.db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1",
  );
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const { rows } = await issuer.store.db.query<{ row: string }>(
      `SELECT t::text AS row FROM "${table_name}" t`,
    );
    parts.push(`-- ${table_name}`, ...rows.map((r) => r.row));
  }
  return parts.join("\n");
}

/** The ways a token could be written down: plain, as a Basic credential, and base64-encoded. */
function forms(token: string): string[] {
  return [
    token,
    Buffer.from(`:${token}`).toString("base64"),
    Buffer.from(token).toString("base64"),
    token.slice(0, 52),
  ];
}

describe("no token plaintext is kept", () => {
  it("in any table after a full lifecycle, nor in the logs", async () => {
    const s = await seedTenant(issuer.store);
    const app = await buildIssuerServer({
      store: issuer.store,
      config: issuer.config,
      logger: issuer.logger,
    });
    const tokens: string[] = [];
    const fingerprints: string[] = [];
    const keep = (token: string) => {
      tokens.push(token);
      fingerprints.push(fingerprint(token));
    };
    try {
      const post = async (body: object, user = "alice@example.com") => {
        const response = await app.inject({
          method: "POST",
          url: `/${s.org.name}/_apis/tokens/pats?api-version=7.1-preview.1&user=${user}`,
          headers: { "x-patrol-admin-key": ADMIN_KEY, "content-type": "application/json" },
          payload: JSON.stringify(body),
        });
        expect(response.statusCode, response.body).toBe(200);
        keep(response.json().patToken.token);
        return response.json().patToken;
      };
      const a = await post({ displayName: "one", scope: "vso.code" });
      const b = await post({ displayName: "two", scope: "app_token", allOrgs: true }, "bob@example.com");
      const c = await post({
        displayName: "three",
        scope: "vso.packaging",
        validTo: inDays(issuer, 1).toISOString(),
      });

      // Use them: PAT authentication, with good and bad tokens.
      for (const token of [...tokens, tokens[0].replace(/.$/, "x")]) {
        await app.inject({
          method: "GET",
          url: `/${s.org.name}/_apis/connectionData`,
          headers: { authorization: `Basic ${Buffer.from(`me:${token}`).toString("base64")}` },
        });
      }
      // A PAT sent where it does not belong.
      await app.inject({
        method: "GET",
        url: `/${s.org.name}/_apis/tokens/pats?api-version=7.1-preview.1`,
        headers: { authorization: `Bearer ${tokens[0]}` },
      });
      // Regenerate, update, revoke, leak, expire.
      const regenerated = await issuer.store.updatePat({
        organization: s.org.name,
        authorizationId: a.authorizationId,
        regenerate: true,
        displayName: "one (new)",
        actor: asUser(s.alice),
      });
      keep(regenerated.token as string);
      await issuer.store.revokePat({
        organization: s.org.name,
        authorizationId: b.authorizationId,
        actor: ADMIN,
      });
      await issuer.store.recordIncident({
        fingerprint: fingerprint(regenerated.token as string),
        format: "azdo-pat",
        authorizationId: a.authorizationId,
        tenantId: s.tenant.id,
        location: { repository: "acme/app", commit: "abc", path: ".env", line: 3, source: "push" },
      });
      await issuer.store.recordPublicDiscovery({
        authorizationId: a.authorizationId,
        repositoryUrl: "https://github.com/acme/app",
        commit: "abc",
        path: ".env",
        line: 3,
        correlationId: "delivery-9",
      });
      await issuer.store.systemRevoke(a.authorizationId, "leaked", "delivery-9");
      await issuer.store.recordMailSent(fingerprint(regenerated.token as string));
      issuer.clock.advance(2 * 86_400_000);
      await issuer.store.expireDuePats();
      const lines: string[] = [];
      for await (const line of issuer.store.exportAuditLog(s.tenant.id)) lines.push(line);
      expect(lines.length).toBeGreaterThanOrEqual(7);
      expect(c.authorizationId).toBeTruthy();

      const dump = await dumpDatabase();
      // The dump is real: it holds the fingerprints and the names.
      for (const fp of fingerprints.slice(1)) expect(dump).toContain(fp);
      // The regenerated PAT's old secret is forgotten altogether.
      expect(dump).not.toContain(fingerprints[0]);
      expect(dump).toContain("one (new)");
      expect(dump).toContain("PatPublicDiscoveryEvent");
      const found = (text: string) => tokens.flatMap(forms).filter((form) => text.includes(form));
      expect(tokens).toHaveLength(4);
      expect(found(dump)).toEqual([]);
      expect(found(lines.join(""))).toEqual([]);

      const logs = issuer.logs.join("\n");
      expect(logs).toContain("PAT authentication failed");
      expect(logs).toContain("PAT created");
      expect(found(logs)).toEqual([]);
    } finally {
      await app.close();
    }
  });

  it("in the files of an embedded (PGlite) database on disk, which keeps its data across restarts", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "patrol-pglite-"));
    const config = loadConfig({ PATROL_DATA_DIR: dataDir, PATROL_ADMIN_KEY: ADMIN_KEY });
    const logger = pino({ level: "silent" });
    try {
      let store = await openIssuerStore({ config, logger });
      expect(store.db.engine).toBe("pglite");
      const s = await seedTenant(store);
      const { token } = await store.createPat({
        organization: s.org.name,
        displayName: "on disk",
        scope: "vso.code",
        actor: asUser(s.alice),
      });
      await store.close();

      store = await openIssuerStore({ config, logger });
      expect((await store.authenticatePat(token, { organization: s.org.name })).ok).toBe(true);
      await store.close();

      const needles = forms(token).map((f) => Buffer.from(f));
      const fingerprintBytes = Buffer.from(fingerprint(token));
      let files = 0;
      let fingerprintFound = false;
      const walk = async (dir: string) => {
        for (const entry of await readdir(dir, { withFileTypes: true })) {
          const full = path.join(dir, entry.name);
          if (entry.isDirectory()) await walk(full);
          else if (entry.isFile()) {
            const content = await readFile(full);
            files++;
            if (content.includes(fingerprintBytes)) fingerprintFound = true;
            for (const needle of needles) expect(content.includes(needle), full).toBe(false);
          }
        }
      };
      await walk(path.join(dataDir, "pglite"));
      expect(files).toBeGreaterThan(100);
      // The scan does see what was stored: the fingerprint is on disk.
      expect(fingerprintFound).toBe(true);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
