/**
 * The files an operator deploys from: the GitHub App manifest asks for exactly the events and permissions
 * patrol handles, and the compose file runs Redis the way BullMQ needs it beside the store, the mail catcher
 * and replicable web and worker services. (`.ci/run` also runs `docker compose config` where docker is.)
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

describe("app.yml", () => {
  it("subscribes to the events patrol handles, with read-only contents and metadata", () => {
    const app = parse(readFileSync("app.yml", "utf8"));
    expect([...app.default_events].sort()).toEqual(
      ["installation", "installation_repositories", "public", "push", "repository"].sort(),
    );
    expect(app.default_permissions).toEqual({ contents: "read", metadata: "read" });
    expect(app.hook_attributes.url).toMatch(/\/api\/github\/webhooks$/);
  });
});

describe("docker-compose.yml", () => {
  const compose = parse(readFileSync("docker-compose.yml", "utf8"), { merge: true });

  it("runs Redis with AOF and noeviction, PostgreSQL, Mailpit, and patrol web and worker", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["mailpit", "postgres", "redis", "web", "worker"]);
    const redis = compose.services.redis.command.join(" ");
    expect(redis).toContain("--appendonly yes");
    expect(redis).toContain("--maxmemory-policy noeviction");
    expect(compose.services.web.command).toEqual(["node", "dist/src/cli/main.js", "web"]);
    expect(compose.services.worker.command).toEqual(["node", "dist/src/cli/main.js", "worker"]);
  });

  it("points both patrol services at the same Redis, database and mail server, in production mode", () => {
    for (const name of ["web", "worker"]) {
      const env = compose.services[name].environment;
      expect(env).toMatchObject({
        NODE_ENV: "production",
        REDIS_URL: "redis://redis:6379",
        SMTP_URL: "smtp://mailpit:1025",
      });
      expect(env.DATABASE_URL).toMatch(/^postgres:\/\/patrol:[^@]+@postgres:5432\/patrol$/);
      for (const secret of [
        "WEBHOOK_SECRET",
        "PATROL_ADMIN_KEY",
        "PATROL_AUDIT_KEY",
        "PATROL_SESSION_SECRET",
        "APP_ID",
        "PRIVATE_KEY",
      ])
        expect(env[secret]).toMatch(new RegExp(`^\\$\\{${secret}:\\?`));
    }
  });
});
