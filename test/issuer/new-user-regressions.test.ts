/**
 * Regression tests for what a new user hit (issue 7): organization names probed before authentication,
 * misleading messages, the CLI's PAT list and second revoke, and the package manifest.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runIssuerCommand } from "../../src/cli/issuer-commands.js";
import { buildIssuerServer } from "../../src/issuer/index.js";
import {
  ADMIN_KEY,
  asUser,
  openTestIssuer,
  seedTenant,
  startOidcProvider,
  type TestIssuer,
  type TestOidcProvider,
  type TestTenant,
} from "../support/issuer.js";

let issuer: TestIssuer;
let oidc: TestOidcProvider;
let app: FastifyInstance;
let t: TestTenant;

beforeAll(async () => {
  oidc = await startOidcProvider();
  // The tenant signs in with the service's default identity provider, as a shared deployment would.
  issuer = await openTestIssuer({
    OIDC_ISSUER: oidc.issuer,
    OIDC_AUDIENCE: oidc.audience,
    OIDC_JWKS_URL: oidc.jwksUrl,
  });
  t = await seedTenant(issuer.store);
  app = await buildIssuerServer({ store: issuer.store, config: issuer.config, logger: issuer.logger });
});
afterAll(async () => {
  await app.close();
  await oidc.close();
  await issuer.close();
});

const V = "api-version=7.1-preview.1";

describe("an unknown organization or tenant answers as a known one before authentication", () => {
  it("gives the same status and body for every kind of credential but the admin key", async () => {
    const strangerJwt = await oidc.sign({ sub: "stranger", email: "stranger@example.com" });
    const foreignJwt = await oidc.sign({ sub: "x", email: "alice@example.com" }, { foreignKey: true });
    const otherIssuerJwt = await oidc.sign({ sub: "x" }, { issuer: "https://login.example.invalid/" });
    const credentials: [string, Record<string, string>][] = [
      ["no credentials", {}],
      ["a garbage bearer token", { authorization: "Bearer not-a-jwt" }],
      ["a wrong admin key", { "x-patrol-admin-key": "wrong" }],
      ["a JWT signed by another key", { authorization: `Bearer ${foreignJwt}` }],
      ["a JWT of another issuer", { authorization: `Bearer ${otherIssuerJwt}` }],
      ["a valid JWT of nobody in the tenant", { authorization: `Bearer ${strangerJwt}` }],
    ];
    const routes = (org: string, tenant: string): [string, string, unknown][] => [
      ["POST", `/${org}/_apis/tokens/pats?${V}`, { displayName: "x", scope: "vso.code" }],
      ["GET", `/${org}/_apis/tokens/pats?${V}`, undefined],
      ["GET", `/${org}/_apis/audit/auditlog?${V}`, undefined],
      ["GET", `/_apis/patrol/organizations/${org}/policies`, undefined],
      ["GET", `/_apis/patrol/tenants/${tenant}`, undefined],
      ["GET", `/${org}/_apis/connectionData`, undefined],
    ];
    const known = routes(t.org.name, t.tenant.name);
    const unknown = routes("no-such-org", "no-such-tenant");
    for (const [what, headers] of credentials) {
      for (let i = 0; i < known.length; i++) {
        const answer = async ([method, url, body]: [string, string, unknown]) => {
          const response = await app.inject({
            method: method as "GET",
            url,
            headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) },
            payload: body === undefined ? undefined : JSON.stringify(body),
          });
          return { status: response.statusCode, body: response.json() };
        };
        const [k, u] = [await answer(known[i]), await answer(unknown[i])];
        expect(u, `${what}: ${unknown[i][1]}`).toEqual(k);
        expect(k.status, `${what}: ${known[i][1]}`).toBeGreaterThanOrEqual(401);
        expect(k.status).toBeLessThanOrEqual(403);
      }
    }
    // The admin key may know: it sees 404.
    const adminSees = await app.inject({
      method: "GET",
      url: `/no-such-org/_apis/tokens/pats?${V}`,
      headers: { "x-patrol-admin-key": ADMIN_KEY },
    });
    expect(adminSees.statusCode).toBe(404);
  });
});

describe("messages say what is wrong", () => {
  const post = (url: string, payload: string) =>
    app.inject({
      method: "POST",
      url,
      headers: { "x-patrol-admin-key": ADMIN_KEY, "content-type": "application/json" },
      payload,
    });

  it("names an unknown field of a strict body instead of calling it 'not a JSON object'", async () => {
    const response = await post(
      `/_apis/patrol/tenants/${t.tenant.name}/organizations`,
      '{"name":"ok","colour":"red"}',
    );
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toMatch(/unknown field "colour"; known: name/);
    expect(response.json().message).not.toMatch(/JSON object/);
  });

  it("says __proto__ is refused, not that the JSON is invalid", async () => {
    const response = await post(
      `/_apis/patrol/tenants/${t.tenant.name}/organizations`,
      '{"__proto__":{"x":1}}',
    );
    expect(response.statusCode).toBe(400);
    expect(response.json().message).toBe(
      "the request body must not contain __proto__ or constructor.prototype keys",
    );
    const broken = await post(`/_apis/patrol/tenants/${t.tenant.name}/organizations`, '{"name":');
    expect(broken.json().message).toBe("the request body is not valid JSON");
  });

  it("gives one text for a bad $top, whichever check finds it", async () => {
    const texts = new Set<string>();
    for (const top of ["0", "abc", "1001", "-1", "2.5"]) {
      const response = await app.inject({
        method: "GET",
        url: `/${t.org.name}/_apis/tokens/pats?${V}&$top=${top}`,
        headers: { "x-patrol-admin-key": ADMIN_KEY },
      });
      expect(response.statusCode, top).toBe(400);
      texts.add(response.json().message);
    }
    const fromStore = await issuer.store
      .listPats({ organization: t.org.name, actor: { kind: "admin", name: "a" }, top: 0 })
      .catch((error: Error) => error.message);
    texts.add(String(fromStore).replace(/^query field \$top: /, ""));
    expect([...texts].map((m) => m.replace(/^query field \$top: /, ""))).toEqual([
      "$top must be a whole number from 1 to 1000",
    ]);
  });
});

describe("the CLI", () => {
  async function patrol(...argv: string[]) {
    let stdout = "";
    let stderr = "";
    const code = await runIssuerCommand(
      argv,
      { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } },
      { store: issuer.store },
    );
    return { code, stdout, stderr };
  }

  it("lists PATs under a header with an owner column, and says when a revoke changed nothing", async () => {
    const { pat } = await issuer.store.createPat({
      organization: t.org.name,
      displayName: "alice's",
      scope: "vso.code",
      actor: asUser(t.alice),
    });
    await issuer.store.createPat({
      organization: t.org.name,
      displayName: "bob's",
      scope: "vso.code",
      actor: asUser(t.bob),
    });
    const listed = await patrol("pat", "list", "--org", t.org.name);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^AUTHORIZATION ID\s+STATUS\s+VALID TO\s+OWNER\s+NAME\s+SCOPE\s+WHERE$/);
    expect(lines.find((l) => l.includes(pat.authorizationId))).toContain("alice@example.com");
    expect(lines.find((l) => l.includes('"bob\'s"'))).toContain("bob@example.com");

    const first = await patrol("pat", "revoke", "--id", pat.authorizationId);
    expect(first.stdout).toMatch(/^revoked PAT "alice's"/);
    const second = await patrol("pat", "revoke", "--id", pat.authorizationId);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/was already revoked on \d{4}-\d\d-\d\dT.*; nothing changed/);
    expect(second.stdout).not.toMatch(/^revoked/);
  });
});

describe("the package", () => {
  it("packs without error while app.yml, named in files, is still to come, and start execs node", () => {
    const manifest = JSON.parse(readFileSync("package.json", "utf8"));
    expect(manifest.files).toContain("app.yml");
    // `exec` makes node the process npm signals: `npm start &` then `kill $!` stops the server.
    expect(manifest.scripts.start).toMatch(/^exec node /);
    const packed = JSON.parse(
      execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { encoding: "utf8" }),
    ) as { files: { path: string }[] }[];
    const paths = packed[0].files.map((f) => f.path);
    expect(paths).toContain("dist/src/cli/main.js");
    expect(paths).toContain("package.json");
  });
});
