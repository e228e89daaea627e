/**
 * What a scan job holds for a push: a reference to the pushed commits on GitHub, never their content. Built
 * from the webhook payload, checked with zod so a malformed payload is refused at the door with a reason.
 */
import { z } from "zod";

export interface RepositoryRef {
  id: number;
  owner: string;
  name: string;
  /** `owner/name`. */
  fullName: string;
  htmlUrl: string;
  private: boolean;
}

export interface PushReference {
  kind: "push";
  /** `X-GitHub-Delivery`: stable across redeliveries, so it names the job. */
  deliveryId: string;
  installationId: number;
  repository: RepositoryRef;
  ref: string;
  before: string;
  after: string;
  created: boolean;
  forced: boolean;
  /** The pushed commit ids, oldest first (GitHub lists at most 2048). */
  commits: string[];
  /** When the webhook arrived (ms since the epoch): the start of the push→revoked latency. */
  receivedAt: number;
}

const sha = z.string().regex(/^[0-9a-f]{40}$/, "a 40-character hex commit id");

const pushPayload = z.object({
  ref: z.string().min(1).max(1024),
  before: sha,
  after: sha,
  created: z.boolean().default(false),
  deleted: z.boolean().default(false),
  forced: z.boolean().default(false),
  commits: z
    .array(z.object({ id: sha }))
    .max(5000)
    .default([]),
  repository: z.object({
    id: z.number().int(),
    name: z.string().min(1),
    full_name: z.string().regex(/^[^/\s]+\/[^/\s]+$/),
    html_url: z.string().min(1),
    private: z.boolean(),
    owner: z.object({ login: z.string().min(1).optional(), name: z.string().min(1).optional() }),
  }),
  installation: z.object({ id: z.number().int().positive() }),
});

export class PayloadError extends Error {
  override name = "PayloadError";
}

export const ZERO_SHA = "0".repeat(40);

/** Parses a `push` payload; `null` when there is nothing to scan (a deleted ref). Throws PayloadError. */
export function pushReferenceFromPayload(
  payload: unknown,
  deliveryId: string,
  receivedAt: number,
): PushReference | null {
  const parsed = pushPayload.safeParse(payload);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`);
    throw new PayloadError(`malformed push payload: ${problems.slice(0, 5).join("; ")}`);
  }
  const p = parsed.data;
  if (p.deleted || p.after === ZERO_SHA) return null;
  const [owner, name] = p.repository.full_name.split("/");
  return {
    kind: "push",
    deliveryId,
    installationId: p.installation.id,
    repository: {
      id: p.repository.id,
      owner,
      name,
      fullName: p.repository.full_name,
      htmlUrl: p.repository.html_url,
      private: p.repository.private,
    },
    ref: p.ref,
    before: p.before,
    after: p.after,
    created: p.created || p.before === ZERO_SHA,
    forced: p.forced,
    commits: p.commits.map((c) => c.id),
    receivedAt,
  };
}
