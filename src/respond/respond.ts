/**
 * The response to one leaked token: look it up; if it is ours, record the incident and every location, write
 * the public-discovery event, revoke it when the tenant's policy says so (Token.PatSystemRevokeEvent), and ask
 * for the owner's notice. Every step is idempotent in the store, so a retried or redelivered job changes
 * nothing twice; the notice is a job of its own so a mail failure retries the mail, never the revocation.
 */
import type { Logger } from "pino";
import type { IncidentAction, IssuerStore, LeakedPatMatch } from "../issuer/index.js";
import { pushToRevokedSeconds, revocations, storeLookups } from "../metrics/index.js";
import type { FingerprintLookup } from "./fingerprint-lookup.js";
import type { LeakReport } from "./leak-report.js";

export interface RespondDeps {
  store: Pick<
    IssuerStore,
    "recordIncident" | "recordPublicDiscovery" | "systemRevoke" | "setIncidentAction" | "getIncident"
  >;
  lookup: Pick<FingerprintLookup, "find">;
  logger: Logger;
}

export type RespondOutcome =
  | { ours: false }
  | { ours: true; action: IncidentAction; revokedNow: boolean; newLocations: number; notify: boolean };

/** What the tenant's policy says for this PAT right now. */
export function decideAction(match: LeakedPatMatch): IncidentAction | "revoke" {
  if (match.status !== "active") return "alreadyInactive";
  if (match.shouldAutoRevoke) return "revoke";
  return match.tenant.autoRevokeLeakedPats ? "notRevokedExempt" : "notRevokedPolicyOff";
}

export async function respondToLeak(deps: RespondDeps, report: LeakReport): Promise<RespondOutcome> {
  const match = await deps.lookup.find(report.fingerprint);
  storeLookups.inc({ result: match ? "match" : "none" });
  // Not ours: nothing is kept (the fingerprint of someone else's string is nobody's business).
  if (!match) return { ours: false };

  let newLocations = 0;
  for (const location of report.locations) {
    const { newLocation } = await deps.store.recordIncident({
      fingerprint: report.fingerprint,
      format: report.format,
      authorizationId: match.authorizationId,
      tenantId: match.tenant.id,
      redacted: report.redacted,
      location: { ...location, source: report.source },
    });
    if (newLocation) newLocations++;
    await deps.store.recordPublicDiscovery({
      authorizationId: match.authorizationId,
      repositoryUrl: location.url ? repositoryUrl(location.url, location.repository) : location.repository,
      commit: location.commit,
      path: location.path,
      line: location.line,
      correlationId: report.correlationId,
      source: report.source,
      url: location.url,
    });
  }

  const decision = decideAction(match);
  let action: IncidentAction = decision === "revoke" ? "revoked" : decision;
  let revokedNow = false;
  if (decision === "revoke") {
    const first = report.locations[0];
    const where = first ? `${first.repository}@${first.commit.slice(0, 12)}` : "a public repository";
    const result = await deps.store.systemRevoke(
      match.authorizationId,
      `leaked in a public repository (${where}); revoked by patrol`,
      report.correlationId,
    );
    revokedNow = result.revoked;
    if (revokedNow) pushToRevokedSeconds.observe((Date.now() - report.receivedAt) / 1000);
  }
  const incident = await deps.store.getIncident(report.fingerprint);
  // The first decision stands (a retry sees the PAT already revoked, by us); a later leak may still revoke.
  if (revokedNow || incident?.action === "pending") {
    if (incident?.action !== action) await deps.store.setIncidentAction(report.fingerprint, action);
    // A delivery that lost the race to revoke (both saw the incident pending) decided nothing: count once.
    if (decision !== "revoke" || revokedNow) revocations.inc({ action });
  } else if (incident) {
    action = incident.action;
  }
  deps.logger.info(
    {
      fingerprint: report.fingerprint,
      authorizationId: match.authorizationId,
      action,
      revokedNow,
      newLocations,
    },
    "leaked PAT handled",
  );
  return { ours: true, action, revokedNow, newLocations, notify: !incident?.mailedAt };
}

/** The repository's URL from a permalink (`…/owner/name/blob/sha/path#Ln`), else the `owner/name` given. */
function repositoryUrl(url: string, repository: string): string {
  const at = url.indexOf(`/${repository}/`);
  return at >= 0 ? url.slice(0, at + repository.length + 1) : url;
}
