-- The audit log: append-only, and each tenant's events form a hash chain (seq 1, 2, 3 ...).

CREATE TABLE audit_events (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  seq bigint NOT NULL CHECK (seq >= 1),
  id uuid NOT NULL,
  occurred_at timestamptz NOT NULL,
  organization_id uuid REFERENCES organizations (id),
  organization_name text,
  actor_kind text NOT NULL CHECK (actor_kind IN ('user', 'admin', 'system')),
  actor_user_id uuid,
  actor_display_name text NOT NULL,
  actor_upn text,
  action_id text NOT NULL,
  area text NOT NULL,
  category text NOT NULL,
  details text NOT NULL,
  data jsonb NOT NULL DEFAULT '{}',
  correlation_id text,
  ip_address text,
  prev_hash text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  PRIMARY KEY (tenant_id, seq)
);
CREATE UNIQUE INDEX audit_events_id_key ON audit_events (id);
CREATE INDEX audit_events_time_idx ON audit_events (tenant_id, occurred_at);
CREATE INDEX audit_events_organization_idx ON audit_events (organization_id, seq);
CREATE INDEX audit_events_correlation_idx ON audit_events (tenant_id, correlation_id) WHERE correlation_id IS NOT NULL;

-- Where each tenant's chain resumes after the retention purge removed its oldest events.
CREATE TABLE audit_chain_anchors (
  tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
  seq bigint NOT NULL,
  hash text NOT NULL,
  purged_at timestamptz NOT NULL
);

-- Refuses UPDATE and DELETE, except a DELETE of events older than the cutoff that the retention purge
-- sets for its own transaction (`SET LOCAL patrol.audit_purge_before = '...'`).
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cutoff text := current_setting('patrol.audit_purge_before', true);
BEGIN
  IF TG_OP = 'DELETE' AND cutoff IS NOT NULL AND cutoff <> '' AND OLD.occurred_at < cutoff::timestamptz THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE FUNCTION audit_events_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: TRUNCATE refused' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_no_truncate();

-- Lets the leak response find an earlier discovery event for the same PAT and location.
CREATE INDEX audit_events_discovery_idx ON audit_events ((data ->> 'authorizationId'))
  WHERE action_id = 'Token.PatPublicDiscoveryEvent';
