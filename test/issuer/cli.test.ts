import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runIssuerCommand } from "../../src/cli/issuer-commands.js";
import { loadConfig } from "../../src/config.js";
import { fingerprint, isWellFormed } from "../../src/tokens/index.js";
import { openTestIssuer, type TestIssuer, uniqueName } from "../support/issuer.js";

let issuer: TestIssuer;
let workDir: string;

beforeAll(async () => {
  issuer = await openTestIssuer();
  workDir = await mkdtemp(path.join(tmpdir(), "patrol-cli-"));
});
afterAll(async () => {
  await issuer.close();
  await rm(workDir, { recursive: true, force: true });
});

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

async function expectOk(...argv: string[]) {
  const result = await patrol(...argv);
  expect(result.code, `${argv.join(" ")}\n${result.stderr}`).toBe(0);
  return result;
}

describe("patrol issuer commands", () => {
  it("set up a tenant, organization, users and policies, issue a PAT once, revoke it, and audit it", async () => {
    const tenant = uniqueName("tenant");
    const org = uniqueName("org");
    expect((await expectOk("migrate")).stdout).toMatch(/database is at migration \d{3} \(\d+ applied\)/);
    expect((await expectOk("tenant", "create", "--name", tenant)).stdout).toMatch(/created tenant/);
    await expectOk("org", "create", "--tenant", tenant, "--name", org);
    await expectOk(
      "user",
      "create",
      "--tenant",
      tenant,
      "--email",
      "ops@example.com",
      "--display-name",
      "Ops",
      "--admin",
      "--group",
      "sre",
    );
    await expectOk(
      "user",
      "create",
      "--tenant",
      tenant,
      "--email",
      "dev@example.com",
      "--display-name",
      "Dev",
    );

    const set = await expectOk(
      "policy",
      "set",
      "--tenant",
      tenant,
      "--restrict-global",
      "on",
      "--max-lifespan-days",
      "60",
      "--allow-restrict-global",
      "ops@example.com,group:sre",
    );
    expect(set.stdout).toContain("allowlist of restrictGlobalPats: ops@example.com, group:sre");
    await expectOk(
      "policy",
      "set",
      "--org",
      org,
      "--restrict-creation",
      "on",
      "--packaging-only",
      "on",
      "--allow",
      "group:sre",
    );
    const shown = JSON.parse((await expectOk("policy", "show", "--tenant", tenant)).stdout);
    expect(shown.policies).toMatchObject({
      restrictGlobalPats: true,
      maxPatLifespanDays: 60,
      autoRevokeLeakedPats: true,
    });
    expect(shown.allowlists.restrictGlobalPats).toEqual({ users: ["ops@example.com"], groups: ["sre"] });
    const orgShown = JSON.parse((await expectOk("policy", "show", "--org", org)).stdout);
    expect(orgShown).toMatchObject({
      policies: { restrictPatCreation: true, allowPackagingPats: true },
      allowlist: { groups: ["sre"] },
    });

    const created = await expectOk(
      "pat",
      "create",
      "--org",
      org,
      "--user",
      "ops@example.com",
      "--name",
      "deploy",
      "--scope",
      "vso.code vso.build",
      "--days",
      "30",
      "--all-orgs",
    );
    const lines = created.stdout.trim().split("\n");
    const token = lines[lines.length - 1];
    expect(isWellFormed(token)).toBe(true);
    expect(created.stdout.split(token)).toHaveLength(2);
    expect(created.stdout).toMatch(/will not be shown again/);
    const id = /authorization id ([0-9a-f-]{36})/.exec(created.stdout)?.[1] as string;
    expect((await issuer.store.authenticatePat(token, { organization: org })).ok).toBe(true);
    const [match] = await issuer.store.findByFingerprints([fingerprint(token)]);
    expect(match).toMatchObject({ authorizationId: id, allOrgs: true, scope: "vso.code vso.build" });

    const json = JSON.parse(
      (
        await expectOk(
          "pat",
          "create",
          "--org",
          org,
          "--user",
          "dev@example.com",
          "--name",
          "feed",
          "--scope",
          "vso.packaging",
          "--json",
        )
      ).stdout,
    );
    expect(json.patTokenError).toBe("none");
    expect(isWellFormed(json.patToken.token)).toBe(true);

    const listed = await expectOk("pat", "list", "--org", org);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('"feed"');
    expect(listed.stdout).not.toContain(token);
    expect(listed.stderr).toContain("2 PAT(s)");

    expect((await expectOk("pat", "revoke", "--id", id, "--reason", "rotated")).stdout).toMatch(
      /revoked PAT "deploy"/,
    );
    expect(await issuer.store.authenticatePat(token)).toEqual({ ok: false, reason: "revoked" });

    expect(
      (await expectOk("user", "disable", "--tenant", tenant, "--email", "dev@example.com")).stdout,
    ).toMatch(/no longer authenticate/);
    expect(await issuer.store.authenticatePat(json.patToken.token)).toEqual({
      ok: false,
      reason: "userDisabled",
    });
    await expectOk("user", "enable", "--tenant", tenant, "--email", "dev@example.com");
    expect((await expectOk("pat", "expire-due")).stdout).toMatch(/marked \d+ PAT\(s\) expired/);

    const exported = await expectOk("audit", "export", "--tenant", tenant);
    const events = exported.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.map((e) => e.actionId)).toEqual(
      expect.arrayContaining(["Token.PatCreateEvent", "Token.PatRevokeEvent", "Policy.PolicyValueUpdated"]),
    );
    expect(events.find((e) => e.actionId === "Token.PatCreateEvent").actorDisplayName).toMatch(/^patrol CLI/);
    expect(exported.stdout).not.toContain(token);
    const out = path.join(workDir, "audit.jsonl");
    await expectOk("audit", "export", "--tenant", tenant, "--out", out, "--since", "2000-01-01T00:00:00Z");
    expect((await readFile(out, "utf8")).trim().split("\n")).toHaveLength(events.length);

    expect((await expectOk("audit", "verify", "--tenant", tenant)).stdout).toMatch(
      /intact: \d+ event\(s\) checked/,
    );
    const tenantId = (await issuer.store.findTenant(tenant))?.id;
    await issuer.store.db.transaction(async (tx) => {
      await tx.query("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only");
      await tx.query(
        'UPDATE audit_events SET data = data || \'{"scope":"vso.profile"}\' WHERE tenant_id = $1 AND seq = 3',
        [tenantId],
      );
      await tx.query("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only");
    });
    const broken = await patrol("audit", "verify", "--tenant", tenant);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/BROKEN at event 3 .*changed/);
  });

  it("exit 1 when the store refuses (not found, conflict, policy), 2 for usage errors", async () => {
    const tenant = uniqueName("tenant");
    const org = uniqueName("org");
    await expectOk("tenant", "create", "--name", tenant);
    await expectOk("org", "create", "--tenant", tenant, "--name", org);
    await expectOk("user", "create", "--tenant", tenant, "--email", "u@example.com", "--display-name", "U");
    await expectOk("policy", "set", "--tenant", tenant, "--restrict-full-scope", "on");

    const refused = await patrol(
      "pat",
      "create",
      "--org",
      org,
      "--user",
      "u@example.com",
      "--name",
      "x",
      "--scope",
      "app_token",
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("fullScopePatPolicyViolation");
    expect(refused.stdout).toBe("");
    expect((await patrol("tenant", "create", "--name", tenant)).code).toBe(1);
    expect(
      (await patrol("org", "create", "--tenant", "no-such-tenant", "--name", uniqueName("org"))).code,
    ).toBe(1);
    expect((await patrol("pat", "revoke", "--id", "0b7c5a1e-2222-4d3b-8f44-999999999999")).code).toBe(1);

    const usage: string[][] = [
      [],
      ["frobnicate"],
      ["tenant"],
      ["tenant", "explode", "--name", "x"],
      ["tenant", "create"],
      ["tenant", "create", "--name", "x", "--colour", "blue"],
      ["user", "create", "--tenant", tenant, "--email", "v@example.com"],
      ["policy", "set", "--tenant", tenant, "--restrict-global", "maybe"],
      ["policy", "set", "--tenant", tenant, "--max-lifespan-days", "soon"],
      ["policy", "set", "--tenant", tenant, "--org", org],
      ["policy", "set", "--tenant", tenant, "--restrict-creation", "on"],
      ["pat", "create", "--org", org, "--user", "u@example.com", "--name", "x", "--scope", "vso.nope"],
      [
        "pat",
        "create",
        "--org",
        org,
        "--user",
        "u@example.com",
        "--name",
        "x",
        "--scope",
        "vso.code",
        "--days",
        "3",
        "--valid-to",
        "2030-01-01T00:00:00Z",
      ],
      ["pat", "list", "--org", org, "--status", "sideways"],
      ["audit", "export", "--tenant", tenant, "--since", "last tuesday"],
    ];
    for (const argv of usage) {
      const result = await patrol(...argv);
      expect(result.code, argv.join(" ")).toBe(2);
      expect(result.stderr, argv.join(" ")).toMatch(/^patrol: /);
    }
    expect((await patrol("frobnicate")).stderr).toContain("patrol pat create");
  });

  it("opens the configured store itself when none is given (PGlite under the data directory)", async () => {
    const dataDir = path.join(workDir, "data");
    let stdout = "";
    const code = await runIssuerCommand(
      ["migrate"],
      { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => true } },
      { config: loadConfig({ PATROL_DATA_DIR: dataDir }) },
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/database is at migration \d{3}/);
    expect((await readFile(path.join(dataDir, "pglite", "PG_VERSION"), "utf8")).trim()).toMatch(/^\d+$/);
  });
});
