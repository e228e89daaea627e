/**
 * The issuing store's commands: `patrol migrate | tenant | org | user | policy | pat | audit`. Flags only
 * (node:util parseArgs); each command opens the configured store, does one thing, prints the result.
 * Exit codes: 0 done, 1 failed (not found, refused by a policy, audit chain broken), 2 usage error.
 */
import { createWriteStream } from "node:fs";
import { userInfo } from "node:os";
import { finished } from "node:stream/promises";
import { parseArgs } from "node:util";
import pino, { type Logger } from "pino";
import { type Config, loadConfig } from "../config.js";
import {
  type Actor,
  IssuerError,
  type IssuerStore,
  openIssuerStore,
  type Pat,
  patTokenView,
  requireDateTime,
} from "../issuer/index.js";
import { ISSUER_COMMANDS, ISSUER_USAGE } from "./issuer-usage.js";

export { ISSUER_COMMANDS, ISSUER_USAGE };

export interface IssuerCommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

export interface IssuerCommandDeps {
  /** An open store (tests); otherwise one is opened from the configuration and closed at the end. */
  store?: IssuerStore;
  config?: Config;
  logger?: Logger;
}

/** The first words these commands answer to, so the main CLI knows to hand them over. */

class Usage extends Error {}

type Flags = Record<string, { type: "string" | "boolean"; multiple?: boolean }>;

function flags<const F extends Flags>(args: string[], options: F) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new Usage((error as Error).message);
  }
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") throw new Usage(`--${flag} is required`);
  return value;
}

function onOff(value: string | undefined, flag: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === "on" || value === "true") return true;
  if (value === "off" || value === "false") return false;
  throw new Usage(`--${flag} takes on or off`);
}

/** A date flag, read as the HTTP API reads dates (no zone means UTC) and held to the same range. */
function date(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  try {
    return requireDateTime(value, `--${flag}`);
  } catch (error) {
    if (error instanceof IssuerError) throw new Usage(error.message);
    throw error;
  }
}

function allowlist(value: string): { users: string[]; groups: string[] } {
  const entries = value
    .split(",")
    .map((e) => e.trim())
    .filter((e) => e !== "");
  return {
    users: entries.filter((e) => !e.startsWith("group:")),
    groups: entries.filter((e) => e.startsWith("group:")).map((e) => e.slice("group:".length)),
  };
}

function cliActor(): Actor {
  let who = "unknown";
  try {
    who = userInfo().username;
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return { kind: "admin", name: `patrol CLI (${who})` };
}

const PAT_LIST_HEADER = [
  "AUTHORIZATION ID".padEnd(36),
  "STATUS ",
  "VALID TO".padEnd(24),
  "OWNER",
  "NAME",
  "SCOPE",
  "WHERE",
];

function patLine(pat: Pat, owner: string): string {
  const where = pat.allOrgs ? "all organizations" : `organization ${pat.organizationId}`;
  return `${pat.authorizationId}  ${pat.status.padEnd(7)}  ${pat.validTo.toISOString()}  ${owner}  ${JSON.stringify(pat.displayName)}  ${pat.scope}  (${where})`;
}

/** The owners' emails of a page of PATs. */
async function ownerEmails(store: IssuerStore, pats: Pat[]): Promise<Map<string, string>> {
  const ids = [...new Set(pats.map((p) => p.userId))];
  if (ids.length === 0) return new Map();
  const { rows } = await store.db.query<{ id: string; email: string }>(
    "SELECT id, email FROM users WHERE id = ANY($1::uuid[])",
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.email]));
}

export async function runIssuerCommand(
  argv: string[],
  io: IssuerCommandIo,
  deps: IssuerCommandDeps = {},
): Promise<number> {
  const [command, sub, ...rest] = argv;
  let store = deps.store;
  const ownsStore = store === undefined;
  try {
    if (!ISSUER_COMMANDS.includes(command as (typeof ISSUER_COMMANDS)[number])) {
      throw new Usage(`unknown command: ${command ?? "(none)"}`);
    }
    // Check the words before touching the database, so a typo costs nothing.
    const args = command === "migrate" ? [sub, ...rest].filter((a) => a !== undefined) : rest;
    if (command !== "migrate" && (sub === undefined || sub.startsWith("-"))) {
      throw new Usage(`patrol ${command} needs a subcommand`);
    }
    const open = async () => {
      if (!store) {
        const config = deps.config ?? loadConfig();
        const logger = deps.logger ?? pino({ level: "warn" }, pino.destination(2));
        store = await openIssuerStore({ config, logger });
      }
      return store;
    };
    return await dispatch(command, sub, args, io, open);
  } catch (error) {
    if (error instanceof Usage) {
      io.stderr.write(`patrol: ${error.message}\n\n${ISSUER_USAGE}\n`);
      return 2;
    }
    if (error instanceof IssuerError) {
      const code = error.patTokenError ? ` (${error.patTokenError})` : "";
      io.stderr.write(`patrol: ${error.message}${code}\n`);
      return error.kind === "invalid" ? 2 : 1;
    }
    io.stderr.write(`patrol: error: ${(error as Error).message}\n`);
    return 1;
  } finally {
    if (ownsStore && store) await store.close();
  }
}

async function dispatch(
  command: string,
  sub: string | undefined,
  args: string[],
  io: IssuerCommandIo,
  open: () => Promise<IssuerStore>,
): Promise<number> {
  const out = (text: string) => io.stdout.write(`${text}\n`);
  const actor = cliActor();
  switch (`${command} ${command === "migrate" ? "" : sub}`.trim()) {
    case "migrate": {
      flags(args, {});
      const store = await open();
      // openIssuerStore already migrated; report what the database now holds.
      const report = await store.migrate();
      const { rows } = await store.db.query<{ version: string; name: string }>(
        "SELECT version, name FROM schema_migrations ORDER BY version",
      );
      out(`database is at migration ${rows[rows.length - 1]?.version ?? "none"} (${rows.length} applied)`);
      if (report.applied.length > 0) out(`applied now: ${report.applied.join(", ")}`);
      return 0;
    }
    case "tenant create": {
      const f = flags(args, {
        name: { type: "string" },
        "oidc-issuer": { type: "string" },
        "oidc-audience": { type: "string" },
        "oidc-jwks-url": { type: "string" },
      });
      const tenant = await (await open()).createTenant(
        {
          name: required(f.name, "name"),
          oidc: { issuer: f["oidc-issuer"], audience: f["oidc-audience"], jwksUrl: f["oidc-jwks-url"] },
        },
        { actor },
      );
      out(`created tenant ${tenant.name} (${tenant.id})`);
      return 0;
    }
    case "org create": {
      const f = flags(args, { tenant: { type: "string" }, name: { type: "string" } });
      const organization = await (await open()).createOrganization(
        {
          tenant: required(f.tenant, "tenant"),
          name: required(f.name, "name"),
        },
        { actor },
      );
      out(`created organization ${organization.name} (${organization.id})`);
      return 0;
    }
    case "user create": {
      const f = flags(args, {
        tenant: { type: "string" },
        email: { type: "string" },
        "display-name": { type: "string" },
        subject: { type: "string" },
        admin: { type: "boolean" },
        group: { type: "string", multiple: true },
      });
      const user = await (await open()).createUser(
        {
          tenant: required(f.tenant, "tenant"),
          email: required(f.email, "email"),
          displayName: required(f["display-name"], "display-name"),
          subject: f.subject,
          role: f.admin ? "admin" : "member",
          groups: f.group,
        },
        { actor },
      );
      out(`created user ${user.email} (${user.id})${user.role === "admin" ? " with the admin role" : ""}`);
      return 0;
    }
    case "user disable":
    case "user enable": {
      const f = flags(args, { tenant: { type: "string" }, email: { type: "string" } });
      const user = await (await open()).setUserStatus(
        required(f.tenant, "tenant"),
        required(f.email, "email"),
        sub === "disable" ? "disabled" : "active",
        { actor },
      );
      out(
        user.status === "disabled"
          ? `disabled ${user.email}: their PATs no longer authenticate`
          : `enabled ${user.email}`,
      );
      return 0;
    }
    case "policy set":
      return setPolicies(args, out, open, actor);
    case "policy show": {
      const f = flags(args, { tenant: { type: "string" }, org: { type: "string" } });
      const store = await open();
      if ((f.tenant === undefined) === (f.org === undefined))
        throw new Usage("name either --tenant or --org");
      if (f.tenant !== undefined) {
        const tenant = await store.findTenant(f.tenant);
        if (!tenant) throw new IssuerError("notFound", `tenant ${f.tenant} does not exist`);
        const allowlists: Record<string, unknown> = {};
        for (const policy of [
          "autoRevokeLeakedPats",
          "restrictGlobalPats",
          "restrictFullScopePats",
          "maxPatLifespan",
        ] as const) {
          allowlists[policy] = await store.getAllowlist({ tenant: tenant.id, policy });
        }
        out(JSON.stringify({ tenant: tenant.name, policies: tenant.policies, allowlists }, null, 2));
      } else {
        const organization = await store.findOrganization(f.org as string);
        if (!organization) throw new IssuerError("notFound", `organization ${f.org} does not exist`);
        const allowlist = await store.getAllowlist({
          organization: organization.name,
          policy: "restrictPatCreation",
        });
        out(
          JSON.stringify(
            { organization: organization.name, policies: organization.policies, allowlist },
            null,
            2,
          ),
        );
      }
      return 0;
    }
    case "pat create": {
      const f = flags(args, {
        org: { type: "string" },
        user: { type: "string" },
        name: { type: "string" },
        scope: { type: "string" },
        "valid-to": { type: "string" },
        days: { type: "string" },
        "all-orgs": { type: "boolean" },
        json: { type: "boolean" },
      });
      if (f["valid-to"] !== undefined && f.days !== undefined)
        throw new Usage("give --valid-to or --days, not both");
      let validTo = date(f["valid-to"], "valid-to");
      if (f.days !== undefined) {
        if (!/^\d{1,3}$/.test(f.days) || Number(f.days) < 1)
          throw new Usage("--days must be a whole number of days");
        validTo = new Date(Date.now() + Number(f.days) * 86_400_000);
      }
      const { pat, token } = await (await open()).createPat({
        organization: required(f.org, "org"),
        owner: required(f.user, "user"),
        displayName: required(f.name, "name"),
        scope: required(f.scope, "scope"),
        validTo,
        allOrgs: f["all-orgs"] ?? false,
        actor,
      });
      if (f.json) {
        out(JSON.stringify({ patToken: patTokenView(pat, token), patTokenError: "none" }));
      } else {
        out(`created PAT ${JSON.stringify(pat.displayName)} (authorization id ${pat.authorizationId})`);
        out(`valid until ${pat.validTo.toISOString()}; scope: ${pat.scope}`);
        out("copy the token now: it is not stored and will not be shown again");
        out(token);
      }
      return 0;
    }
    case "pat list": {
      const f = flags(args, {
        org: { type: "string" },
        user: { type: "string" },
        status: { type: "string" },
      });
      const status = f.status ?? "active";
      if (!["active", "revoked", "expired", "all"].includes(status)) {
        throw new Usage("--status is active, revoked, expired or all");
      }
      const store = await open();
      let continuationToken: string | undefined;
      let count = 0;
      out(PAT_LIST_HEADER.join("  "));
      do {
        const page = await store.listPats({
          organization: required(f.org, "org"),
          actor,
          owner: f.user,
          filter: status as "active",
          top: 1000,
          continuationToken,
        });
        const owners = await ownerEmails(store, page.pats);
        for (const pat of page.pats) out(patLine(pat, owners.get(pat.userId) ?? pat.userId));
        count += page.pats.length;
        continuationToken = page.continuationToken ?? undefined;
      } while (continuationToken);
      io.stderr.write(`${count} PAT(s)\n`);
      return 0;
    }
    case "pat revoke": {
      const f = flags(args, { id: { type: "string" }, reason: { type: "string" } });
      const pat = await (await open()).adminRevokePat({
        authorizationId: required(f.id, "id"),
        reason: f.reason,
        actor,
      });
      out(
        pat.alreadyRevoked
          ? `PAT ${JSON.stringify(pat.displayName)} (${pat.authorizationId}) was already revoked${pat.revokedAt ? ` on ${pat.revokedAt.toISOString()}` : ""}; nothing changed`
          : `revoked PAT ${JSON.stringify(pat.displayName)} (${pat.authorizationId})`,
      );
      return 0;
    }
    case "pat expire-due": {
      flags(args, {});
      const { expired } = await (await open()).expireDuePats();
      out(`marked ${expired} PAT(s) expired`);
      return 0;
    }
    case "audit export": {
      const f = flags(args, {
        tenant: { type: "string" },
        since: { type: "string" },
        until: { type: "string" },
        out: { type: "string" },
      });
      const startTime = date(f.since, "since");
      const endTime = date(f.until, "until");
      const store = await open();
      const tenant = await store.findTenant(required(f.tenant, "tenant"));
      if (!tenant) throw new IssuerError("notFound", `tenant ${f.tenant} does not exist`);
      const file = f.out === undefined ? null : createWriteStream(f.out, { flags: "wx" });
      let lines = 0;
      for await (const line of store.exportAuditLog(tenant.id, { startTime, endTime })) {
        if (file) {
          if (!file.write(line)) await new Promise<void>((resolve) => file.once("drain", () => resolve()));
        } else io.stdout.write(line);
        lines++;
      }
      if (file) {
        file.end();
        await finished(file);
      }
      io.stderr.write(`exported ${lines} audit event(s) of tenant ${tenant.name}\n`);
      return 0;
    }
    case "audit verify": {
      const f = flags(args, { tenant: { type: "string" }, checkpoints: { type: "string" } });
      const store = await open();
      const tenant = await store.findTenant(required(f.tenant, "tenant"));
      if (!tenant) throw new IssuerError("notFound", `tenant ${f.tenant} does not exist`);
      const report = await store.verifyAuditChain(tenant.id, { checkpointFile: f.checkpoints });
      if (report.ok) {
        out(
          `audit chain of tenant ${tenant.name} is intact: ${report.checked} event(s) checked, ${report.checkpoints} signed checkpoint(s) matched${report.startsAfter > 0 ? `, starting after event ${report.startsAfter} (signed retention anchor)` : ""}`,
        );
        return 0;
      }
      out(
        `audit chain of tenant ${tenant.name} is BROKEN at event ${report.brokenAt.seq} (${report.brokenAt.id}): ${report.brokenAt.reason}; ${report.checked} event(s) before it are intact`,
      );
      return 1;
    }
    case "audit checkpoint": {
      flags(args, {});
      const { written } = await (await open()).writeAuditCheckpoints();
      out(`wrote ${written} signed audit checkpoint(s)`);
      return 0;
    }
    case "audit purge": {
      flags(args, {});
      const { deleted } = await (await open()).purgeAuditLog();
      out(`purged ${deleted} audit event(s) past the retention period`);
      return 0;
    }
    default:
      throw new Usage(`unknown command: patrol ${command} ${sub ?? ""}`.trim());
  }
}

async function setPolicies(
  args: string[],
  out: (text: string) => void,
  open: () => Promise<IssuerStore>,
  actor: Actor,
): Promise<number> {
  const f = flags(args, {
    tenant: { type: "string" },
    org: { type: "string" },
    "auto-revoke": { type: "string" },
    "restrict-global": { type: "string" },
    "restrict-full-scope": { type: "string" },
    "max-lifespan-days": { type: "string" },
    "allow-auto-revoke": { type: "string" },
    "allow-restrict-global": { type: "string" },
    "allow-restrict-full-scope": { type: "string" },
    "allow-max-lifespan": { type: "string" },
    "restrict-creation": { type: "string" },
    "packaging-only": { type: "string" },
    allow: { type: "string" },
  });
  if ((f.tenant === undefined) === (f.org === undefined)) throw new Usage("name either --tenant or --org");
  if (f.tenant !== undefined) {
    const orgOnly = ["restrict-creation", "packaging-only", "allow"].filter(
      (k) => f[k as keyof typeof f] !== undefined,
    );
    if (orgOnly.length > 0) throw new Usage(`--${orgOnly[0]} is an organization policy: use --org`);
    let maxPatLifespanDays: number | null | undefined;
    const lifespan = f["max-lifespan-days"];
    if (lifespan === "off") maxPatLifespanDays = null;
    else if (lifespan !== undefined) {
      if (!/^\d{1,3}$/.test(lifespan)) throw new Usage("--max-lifespan-days takes a number of days or off");
      maxPatLifespanDays = Number(lifespan);
    }
    const patch = {
      autoRevokeLeakedPats: onOff(f["auto-revoke"], "auto-revoke"),
      restrictGlobalPats: onOff(f["restrict-global"], "restrict-global"),
      restrictFullScopePats: onOff(f["restrict-full-scope"], "restrict-full-scope"),
      maxPatLifespanDays,
    };
    const allowlists = [
      ["autoRevokeLeakedPats", f["allow-auto-revoke"]],
      ["restrictGlobalPats", f["allow-restrict-global"]],
      ["restrictFullScopePats", f["allow-restrict-full-scope"]],
      ["maxPatLifespan", f["allow-max-lifespan"]],
    ] as const;
    const store = await open();
    const tenant = await store.findTenant(f.tenant);
    if (!tenant) throw new IssuerError("notFound", `tenant ${f.tenant} does not exist`);
    const policies = await store.setTenantPolicies(tenant.id, patch, actor);
    for (const [policy, list] of allowlists) {
      if (list === undefined) continue;
      const set = await store.setAllowlist({ tenant: tenant.id, policy }, allowlist(list), actor);
      out(
        `allowlist of ${policy}: ${[...set.users, ...set.groups.map((g) => `group:${g}`)].join(", ") || "(empty)"}`,
      );
    }
    out(`tenant ${tenant.name} policies: ${JSON.stringify(policies)}`);
    return 0;
  }
  const tenantOnly = [
    "auto-revoke",
    "restrict-global",
    "restrict-full-scope",
    "max-lifespan-days",
    "allow-auto-revoke",
    "allow-restrict-global",
    "allow-restrict-full-scope",
    "allow-max-lifespan",
  ].filter((k) => f[k as keyof typeof f] !== undefined);
  if (tenantOnly.length > 0) throw new Usage(`--${tenantOnly[0]} is a tenant policy: use --tenant`);
  const patch = {
    restrictPatCreation: onOff(f["restrict-creation"], "restrict-creation"),
    allowPackagingPats: onOff(f["packaging-only"], "packaging-only"),
  };
  const store = await open();
  const organization = f.org as string;
  const policies = await store.setOrganizationPolicies(organization, patch, actor);
  if (f.allow !== undefined) {
    const set = await store.setAllowlist(
      { organization, policy: "restrictPatCreation" },
      allowlist(f.allow),
      actor,
    );
    out(
      `allowlist of restrictPatCreation: ${[...set.users, ...set.groups.map((g) => `group:${g}`)].join(", ") || "(empty)"}`,
    );
  }
  out(`organization ${organization} policies: ${JSON.stringify(policies)}`);
  return 0;
}
