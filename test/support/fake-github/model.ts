/**
 * The fake GitHub's world: accounts (users and organizations), the app's installations (one per account it is
 * installed on) and repositories. Plain records; `server.ts` owns the registry, `shapes.ts` turns them into
 * GitHub's JSON, `repository.ts` adds the git side.
 */
export interface FakeUrls {
  /** `http://127.0.0.1:PORT` — GitHub's web host (html_url, clone_url). */
  web: string;
  /** `http://127.0.0.1:PORT/api/v3` — the REST API, as GHE serves it. */
  api: string;
}

export interface Account {
  login: string;
  id: number;
  type: "User" | "Organization";
  /** Shown as the push payload's pusher and the owner's name/email there. */
  name: string;
  email: string;
}

export interface Installation {
  id: number;
  account: Account;
  repositorySelection: "all" | "selected";
  createdAt: Date;
}

export interface AppInfo {
  id: number;
  slug: string;
  name: string;
  clientId: string;
  owner: Account;
  /** What the app asks for; the manifest's permissions. */
  permissions: Record<string, string>;
  events: string[];
  createdAt: Date;
}

export const APP_PERMISSIONS = { contents: "read", metadata: "read" };
export const APP_EVENTS = ["push", "public", "repository", "installation", "installation_repositories"];

/** GitHub's GraphQL-style node id for a record (opaque; only its shape matters). */
export function nodeId(kind: string, id: number): string {
  return Buffer.from(`0:${kind}${id}`).toString("base64").replace(/=+$/, "");
}
