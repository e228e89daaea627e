/** The dashboard's login page: one form, no script, no framework. */

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

/** Only styles inline, nothing else loads; the form posts to us alone and no one may frame the page. */
export const LOGIN_PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export interface LoginPage {
  action: string;
  /** Where to go after signing in (a dashboard path, already checked). */
  next: string;
  /** Shown above the form: why the last attempt failed, or that the dashboard is off. */
  message?: string;
  enabled: boolean;
}

export function renderLoginPage({ action, next, message, enabled }: LoginPage): string {
  const notice = message === undefined ? "" : `<p class="notice" role="alert">${escapeHtml(message)}</p>`;
  const form = enabled
    ? `<form method="post" action="${escapeHtml(action)}">
      <input type="hidden" name="next" value="${escapeHtml(next)}">
      <label for="key">Dashboard key</label>
      <input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
      <button type="submit">Sign in</button>
    </form>`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>patrol — sign in</title>
  <style>
    body { font: 16px/1.5 system-ui, sans-serif; background: #f4f5f7; color: #1d2330; margin: 0; }
    main { max-width: 22rem; margin: 12vh auto; background: #fff; padding: 2rem; border-radius: 8px;
           box-shadow: 0 1px 4px rgba(0, 0, 0, .12); }
    h1 { font-size: 1.25rem; margin: 0 0 1rem; }
    label { display: block; font-weight: 600; margin-bottom: .25rem; }
    input[type=password] { box-sizing: border-box; width: 100%; padding: .5rem; font: inherit;
                           border: 1px solid #b5bac4; border-radius: 4px; }
    button { margin-top: 1rem; width: 100%; padding: .6rem; font: inherit; font-weight: 600; color: #fff;
             background: #2f5bd3; border: 0; border-radius: 4px; cursor: pointer; }
    .notice { background: #fdecec; color: #8a1c1c; padding: .5rem .75rem; border-radius: 4px; }
    .hint { color: #5b6270; font-size: .875rem; margin-top: 1rem; }
  </style>
</head>
<body>
  <main>
    <h1>patrol queue dashboard</h1>
    ${notice}
    ${form}
    <p class="hint">The administrator key (PATROL_ADMIN_KEY) may retry and clean jobs; the viewer key
      (PATROL_VIEWER_KEY) may only look.</p>
  </main>
</body>
</html>
`;
}
