/**
 * `npm run demo`: the product's main job on this machine, start to finish, with nothing from outside.
 *
 * Starts a fake GitHub (real git repositories, the REST API patrol reads, webhooks signed as GitHub signs them),
 * runs `patrol start` against it (embedded PGlite, a private Redis, mail to the outbox folder), issues a PAT
 * through the API, commits it to a repository, delivers the push webhook, and shows what patrol did: the PAT
 * now refused, the owner's mail, the audit events and the incident. Everything lives in a temporary folder,
 * removed at the end (`--keep` leaves it).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startFakeGitHub } from "../test/support/fake-github/index.js";

const CLI = path.resolve("dist/src/cli/main.js");

async function main(): Promise<void> {
  const keep = process.argv.includes("--keep");
  const dir = mkdtempSync(path.join(tmpdir(), "patrol-demo-"));
  const secret = randomBytes(20).toString("hex");
  const adminKey = randomBytes(24).toString("hex");
  const gh = await startFakeGitHub();
  let child: ChildProcess | undefined;
  const step = (text: string) => console.log(`\n▸ ${text}`);
  try {
    step(`fake GitHub on ${gh.apiUrl}; starting patrol start (data in ${dir})`);
    child = spawn(process.execPath, [CLI, "start"], {
      env: {
        ...process.env,
        ...gh.env(secret),
        PORT: "0",
        PATROL_DATA_DIR: dir,
        PATROL_ADMIN_KEY: adminKey,
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "inherit", "pipe"],
    });
    let stderr = "";
    const url = await new Promise<string>((resolve, reject) => {
      child!.stderr!.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
        process.stderr.write(d);
        const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(stderr);
        if (m) resolve(m[1]);
      });
      child!.once("exit", (code) => reject(new Error(`patrol start exited (${code})`)));
    });
    const call = async (method: string, route: string, body?: unknown) => {
      const r = await fetch(`${url}${route}`, {
        method,
        headers: { "x-patrol-admin-key": adminKey, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      if (r.status >= 300) throw new Error(`${method} ${route}: ${r.status} ${text}`);
      return text ? JSON.parse(text) : null;
    };

    step("a tenant, an organization, a user, and a PAT for them (POST /{org}/_apis/tokens/pats)");
    await call("POST", "/_apis/patrol/tenants", { name: "contoso" });
    await call("POST", "/_apis/patrol/tenants/contoso/organizations", { name: "contoso-web" });
    await call("POST", "/_apis/patrol/tenants/contoso/users", {
      email: "dev@contoso.example",
      displayName: "Dana Dev",
    });
    const validTo = new Date(Date.now() + 30 * 86400_000).toISOString();
    const { patToken } = await call(
      "POST",
      "/contoso-web/_apis/tokens/pats?api-version=7.1-preview.1&user=dev%40contoso.example",
      { displayName: "deploy script", scope: "vso.code", validTo, allOrgs: false },
    );
    const basic = { authorization: `Basic ${Buffer.from(`any:${patToken.token}`).toString("base64")}` };
    const status = async () =>
      (await fetch(`${url}/contoso-web/_apis/connectionData`, { headers: basic })).status;
    console.log(
      `  PAT "${patToken.displayName}" (${patToken.token.slice(0, 4)}…${patToken.token.slice(-4)}): connectionData answers ${await status()}`,
    );

    step("the PAT is committed to contoso/website and pushed; GitHub sends the push webhook");
    const repo = await gh.createRepo("contoso", "website");
    const before = await repo.commit({ message: "init", files: { "README.md": "# website\n" } });
    const after = await repo.commit({
      message: "deploy script",
      files: {
        "deploy.sh": `#!/bin/sh\nexport AZURE_DEVOPS_EXT_PAT=${patToken.token}\naz pipelines run --name web\n`,
      },
    });
    const delivery = await gh.deliver({
      url: `${url}/api/github/webhooks`,
      event: "push",
      secret,
      payload: await repo.pushPayload({ before, after }),
    });
    console.log(
      `  webhook ${delivery.guid}: ${delivery.statusCode} in ${(delivery.duration * 1000).toFixed(0)} ms`,
    );

    step("patrol scans, finds, revokes, mails and audits");
    const started = Date.now();
    while ((await status()) !== 401 && Date.now() - started < 30_000)
      await new Promise((r) => setTimeout(r, 50));
    console.log(
      `  connectionData with the PAT now answers ${await status()} (${Date.now() - started} ms after the webhook was answered)`,
    );
    const outbox = path.join(dir, "outbox");
    const mails = () => (existsSync(outbox) ? readdirSync(outbox).filter((f) => f.endsWith(".eml")) : []);
    for (let i = 0; i < 100 && mails().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const [mail] = mails();
    console.log(`  mail to the owner: ${path.join(outbox, mail)}\n`);
    console.log(
      readFileSync(path.join(outbox, mail), "utf8")
        .split("\n")
        .filter((l) => /^(To|Subject):/.test(l))
        .map((l) => `    ${l}`)
        .join("\n"),
    );
    const audit = await call("GET", "/contoso-web/_apis/audit/auditlog?api-version=7.1-preview.1");
    console.log("  audit log (newest first):");
    for (const e of audit.decoratedAuditLogEntries.slice(0, 4))
      console.log(`    ${e.actionId}: ${e.details}`);
    const incidents = await call("GET", "/_apis/patrol/incidents");
    const incident = incidents.value[0];
    console.log(
      `  incident ${incident.id}: ${incident.state}, mail ${incident.mail.status}, at ${incident.locations[0].permalink}`,
    );
    console.log(
      "\nDone. The dashboard (sign in with the admin key) is at",
      `${url}/admin/queues`,
      keep ? "— still running; Ctrl-C stops it" : "",
    );
    if (keep) await new Promise((r) => process.once("SIGINT", r));
  } finally {
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      await gone;
    }
    await gh.close();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
