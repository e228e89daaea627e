-- Leak incidents: one per token fingerprint, with every place the token was seen.

CREATE TABLE leak_incidents (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Byte-wise collation: fingerprints are compared, never sorted for people, and memcmp is the fastest.
  fingerprint text COLLATE "C" NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{64}$'),
  format text NOT NULL CHECK (format IN ('azdo-pat', 'azdo-pat-legacy')),
  -- Set when the fingerprint belongs to one of our PATs.
  authorization_id uuid REFERENCES pats (authorization_id),
  tenant_id uuid REFERENCES tenants (id),
  first_seen_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  action text NOT NULL DEFAULT 'pending' CHECK (action IN (
    'pending', 'revoked', 'notRevokedPolicyOff', 'notRevokedExempt', 'alreadyInactive', 'notFound'
  )),
  action_at timestamptz,
  mailed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX leak_incidents_fingerprint_key ON leak_incidents (fingerprint);
CREATE INDEX leak_incidents_tenant_idx ON leak_incidents (tenant_id, first_seen_at);

CREATE TABLE leak_incident_locations (
  incident_id uuid NOT NULL REFERENCES leak_incidents (id) ON DELETE CASCADE,
  repository text NOT NULL,
  commit_sha text NOT NULL,
  path text NOT NULL,
  line integer NOT NULL CHECK (line >= 1),
  url text,
  source text NOT NULL,
  seen_at timestamptz NOT NULL,
  PRIMARY KEY (incident_id, repository, commit_sha, path, line)
);
