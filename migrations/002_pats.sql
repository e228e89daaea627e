-- Personal access tokens. Only the SHA-256 fingerprint of a token is kept, never the token.

CREATE TABLE pats (
  authorization_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  user_id uuid NOT NULL REFERENCES users (id),
  -- The organization the PAT was created in; with all_orgs it is valid in every organization of the tenant.
  organization_id uuid NOT NULL REFERENCES organizations (id),
  all_orgs boolean NOT NULL DEFAULT false,
  display_name text NOT NULL,
  scope text NOT NULL,
  -- Byte-wise collation: fingerprints are compared, never sorted for people, and memcmp is the fastest.
  fingerprint text COLLATE "C" NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
  format text NOT NULL CHECK (format IN ('azdo-pat', 'azdo-pat-legacy')),
  valid_from timestamptz NOT NULL,
  valid_to timestamptz NOT NULL,
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked', 'expired')),
  revoked_at timestamptz,
  revoke_reason text,
  revoked_by_kind text CHECK (revoked_by_kind IN ('user', 'admin', 'system')),
  revoked_by_user_id uuid REFERENCES users (id),
  expired_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK (valid_to > valid_from),
  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL AND revoked_by_kind IS NOT NULL))
);
CREATE UNIQUE INDEX pats_fingerprint_key ON pats (fingerprint);
-- Lookups by fingerprint (authentication, leak response) are equality probes of random keys: a hash index is
-- half the size of the B-tree, so far more of it stays in memory. The B-tree above enforces uniqueness.
CREATE INDEX pats_fingerprint_hash ON pats USING hash (fingerprint);
CREATE INDEX pats_owner_idx ON pats (user_id, organization_id);
CREATE INDEX pats_organization_idx ON pats (organization_id);
CREATE INDEX pats_tenant_all_orgs_idx ON pats (tenant_id) WHERE all_orgs;
-- What the expiry sweep scans.
CREATE INDEX pats_due_idx ON pats (valid_to) WHERE status = 'active';
