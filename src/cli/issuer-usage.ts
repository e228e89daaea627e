/** The issuing store's commands and their usage: kept apart so `patrol --help` loads no database code. */
export const ISSUER_USAGE = `Issuing store:
  patrol migrate
  patrol tenant create --name NAME [--oidc-issuer URL --oidc-audience AUD --oidc-jwks-url URL]
  patrol org create --tenant TENANT --name NAME
  patrol user create --tenant TENANT --email EMAIL --display-name NAME [--subject SUB] [--admin] [--group G]...
  patrol user disable|enable --tenant TENANT --email EMAIL
  patrol policy set --tenant TENANT [--auto-revoke on|off] [--restrict-global on|off]
                    [--restrict-full-scope on|off] [--max-lifespan-days N|off]
                    [--allow-auto-revoke LIST] [--allow-restrict-global LIST]
                    [--allow-restrict-full-scope LIST] [--allow-max-lifespan LIST]
  patrol policy set --org ORG [--restrict-creation on|off] [--packaging-only on|off] [--allow LIST]
      (--packaging-only on: with creation restricted, everyone may still create packaging-scoped PATs)
  patrol policy show --tenant TENANT | --org ORG
      LIST: comma-separated emails and group:NAME entries; "" empties the allowlist
  patrol pat create --org ORG --user EMAIL --name NAME --scope "SCOPES" [--valid-to ISO | --days N]
                    [--all-orgs] [--json]            (prints the token once)
  patrol pat list --org ORG [--user EMAIL] [--status active|revoked|expired|all]
  patrol pat revoke --id AUTHORIZATION_ID [--reason TEXT]
  patrol pat expire-due
  patrol audit export --tenant TENANT [--since ISO] [--until ISO] [--out FILE]   (JSON lines)
  patrol audit verify --tenant TENANT [--checkpoints FILE]   (default: AUDIT_CHECKPOINT_FILE)
  patrol audit checkpoint          (sign each tenant's chain head into the checkpoint file now)
  patrol audit purge`;

export const ISSUER_COMMANDS = ["migrate", "tenant", "org", "user", "policy", "pat", "audit"] as const;
