/**
 * What a history scan job holds: which repository to clone and why, never a token. Built from the `public`,
 * `repository.publicized`, `installation.created` and `installation_repositories.added` payloads.
 */
import type { Probot } from "probot";
import { z } from "zod";
import { PayloadError } from "./push-reference.js";

export type HistoryTrigger =
  | "public"
  | "publicized"
  | "installation"
  | "installation-repositories"
  | "manual";

export interface HistoryRepository {
  id: number;
  /** `owner/name`. */
  fullName: string;
  private: boolean;
}

export interface HistoryReference {
  kind: "history";
  /** `X-GitHub-Delivery` (or a generated id for a scan started by hand). */
  deliveryId: string;
  trigger: HistoryTrigger;
  installationId: number;
  repository: HistoryRepository;
  receivedAt: number;
}

const repository = z.object({
  id: z.number().int().positive(),
  full_name: z.string().regex(/^[^/\s]+\/[^/\s]+$/),
  private: z.boolean(),
});
const installation = z.object({ id: z.number().int().positive() });

const shapes = {
  public: z.object({ repository, installation }),
  publicized: z.object({ repository, installation }),
  installation: z.object({ installation, repositories: z.array(repository).default([]) }),
  "installation-repositories": z.object({
    installation,
    repositories_added: z.array(repository).default([]),
  }),
} as const;

/** Every repository a payload names, public or not (the caller decides what to scan). Throws PayloadError. */
export function historyReferencesFromPayload(
  trigger: Exclude<HistoryTrigger, "manual">,
  payload: unknown,
  deliveryId: string,
  receivedAt: number,
): HistoryReference[] {
  const parsed = shapes[trigger].safeParse(payload);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`);
    throw new PayloadError(`malformed ${trigger} payload: ${problems.slice(0, 5).join("; ")}`);
  }
  const data = parsed.data as {
    installation: { id: number };
    repository?: z.output<typeof repository>;
    repositories?: z.output<typeof repository>[];
    repositories_added?: z.output<typeof repository>[];
  };
  const repos = data.repository ? [data.repository] : (data.repositories ?? data.repositories_added ?? []);
  return repos.map((r) => ({
    kind: "history",
    deliveryId,
    trigger,
    installationId: data.installation.id,
    // `public` fires once the repository is public, whatever a stale flag in the payload says.
    repository: {
      id: r.id,
      fullName: r.full_name,
      private: trigger === "public" || trigger === "publicized" ? false : r.private,
    },
    receivedAt,
  }));
}

/** GitHub answers 404 for the app's installation on the repository: not installed there, or no such repository. */
export class AppNotInstalledError extends PayloadError {
  override name = "AppNotInstalledError";
}

/** Asks GitHub (as the app) which installation covers `owner/name`, for a scan started by hand. */
export async function manualHistoryReference(
  probot: Probot,
  fullName: string,
  deliveryId: string,
): Promise<HistoryReference> {
  const [owner, repo] = fullName.split("/");
  const app = await probot.auth();
  const installation = await app
    .request("GET /repos/{owner}/{repo}/installation", { owner, repo })
    .catch((error: { status?: number; message: string }) => {
      if (error.status === 404)
        throw new AppNotInstalledError(
          `the GitHub App is not installed on ${fullName} (or the repository does not exist)`,
        );
      throw new PayloadError(`cannot find the installation for ${fullName}: ${error.message}`);
    });
  const octokit = await probot.auth(Number(installation.data.id));
  const { data } = await octokit.request("GET /repos/{owner}/{repo}", { owner, repo });
  return {
    kind: "history",
    deliveryId,
    trigger: "manual",
    installationId: Number(installation.data.id),
    repository: { id: Number(data.id), fullName: data.full_name, private: data.private },
    receivedAt: Date.now(),
  };
}
