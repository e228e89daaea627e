/**
 * The owner's notice: what leaked (display name and redacted form, never the token), where (repository, commit
 * link, file and line), what patrol did, and what to do next. Plain text and HTML carry the same facts.
 */
import type { IncidentAction, LeakedPatMatch, LeakIncident } from "../issuer/index.js";

export interface LeakNotice {
  subject: string;
  text: string;
  html: string;
}

/** Shown in the mail; the rest are counted. */
const LISTED_LOCATIONS = 10;

function whatWasDone(action: IncidentAction, at: Date | null): { text: string; next: string[] } {
  const when = at ? ` on ${at.toISOString().replace("T", " ").slice(0, 16)} UTC` : "";
  switch (action) {
    case "revoked":
      return {
        text: `patrol revoked the token${when}. It no longer works.`,
        next: [
          "Create a new token with only the scopes you need, and put it where the old one was used.",
          "Keep tokens out of source code: use your CI system's secret store or a credential manager.",
          "Check the audit log for anything done with the token before it was revoked.",
        ],
      };
    case "notRevokedPolicyOff":
      return {
        text:
          'The token was NOT revoked: your organization\'s policy "Automatically revoke leaked PATs" is off. ' +
          "It still works, and anyone who saw it can use it.",
        next: [
          "Revoke the token now (Personal access tokens, Revoke), then create a new one with only the scopes you need.",
          "Check the audit log for anything done with the token since it was pushed.",
        ],
      };
    case "notRevokedExempt":
      return {
        text:
          "The token was NOT revoked: you are exempt from your organization's automatic revocation policy. " +
          "It still works, and anyone who saw it can use it.",
        next: [
          "Revoke the token now, then create a new one with only the scopes you need.",
          "Check the audit log for anything done with the token since it was pushed.",
        ],
      };
    default:
      return {
        text: "The token was already revoked or expired when it was found, so nobody can use it.",
        next: ["No action is needed for this token; keep new tokens out of source code."],
      };
  }
}

function commitLink(url: string | null, commit: string): string | null {
  if (!url) return null;
  const at = url.indexOf("/blob/");
  return at >= 0 ? `${url.slice(0, at)}/commit/${commit}` : null;
}

function escapeHtml(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

export function leakNotice(incident: LeakIncident, match: LeakedPatMatch): LeakNotice {
  const done = whatWasDone(incident.action, incident.actionAt);
  const token = `"${match.displayName}"${incident.redacted ? ` (${incident.redacted})` : ""}`;
  const subject = `Your personal access token "${match.displayName}" was found in a public repository`;
  const shown = incident.locations.slice(0, LISTED_LOCATIONS);
  const more = incident.locations.length - shown.length;

  const textPlaces = shown.map((l) => {
    const commit = commitLink(l.url, l.commit) ?? l.commit;
    return [
      `  Repository: ${l.repository}`,
      `  Commit:     ${commit}`,
      `  File:       ${l.path}, line ${l.line}`,
      ...(l.url ? [`  Link:       ${l.url}`] : []),
    ].join("\n");
  });
  const text = [
    `Hello ${match.owner.displayName},`,
    "",
    `Your personal access token ${token} in organization ${match.organization.name} was found in a public ` +
      `GitHub repository${incident.locations.length > 1 ? ` (${incident.locations.length} places)` : ""}:`,
    "",
    textPlaces.join("\n\n"),
    ...(more > 0 ? ["", `  … and ${more} more place${more === 1 ? "" : "s"}.`] : []),
    "",
    `What patrol did: ${done.text}`,
    "",
    "What to do next:",
    ...done.next.map((step, i) => `  ${i + 1}. ${step}`),
    "  Removing the token from the repository does not make it secret again: treat it as known to others.",
    "",
    "— patrol, on behalf of your security team",
    "",
  ].join("\n");

  const e = escapeHtml;
  const htmlPlaces = shown
    .map((l) => {
      const commit = commitLink(l.url, l.commit);
      return (
        `<li><strong>${e(l.repository)}</strong>, commit ` +
        (commit ? `<a href="${e(commit)}">${e(l.commit.slice(0, 12))}</a>` : e(l.commit.slice(0, 12))) +
        `, <code>${e(l.path)}</code> line ${l.line}` +
        (l.url ? ` (<a href="${e(l.url)}">view</a>)` : "") +
        "</li>"
      );
    })
    .join("\n");
  const html = [
    "<!doctype html><html><body>",
    `<p>Hello ${e(match.owner.displayName)},</p>`,
    `<p>Your personal access token <strong>${e(token)}</strong> in organization ${e(match.organization.name)} ` +
      "was found in a public GitHub repository:</p>",
    `<ul>\n${htmlPlaces}\n</ul>`,
    more > 0 ? `<p>… and ${more} more place${more === 1 ? "" : "s"}.</p>` : "",
    `<p><strong>What patrol did:</strong> ${e(done.text)}</p>`,
    "<p><strong>What to do next:</strong></p>",
    `<ol>${done.next.map((step) => `<li>${e(step)}</li>`).join("")}</ol>`,
    "<p>Removing the token from the repository does not make it secret again: treat it as known to others.</p>",
    "<p>— patrol, on behalf of your security team</p>",
    "</body></html>",
  ].join("\n");
  return { subject, text, html };
}
