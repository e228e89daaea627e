-- Audit log integrity (issue 11). Applies on top of 004 whatever 005 holds: it touches only the audit tables
-- of 003. The chain itself becomes keyed (HMAC, key outside the database); here the database bounds what the
-- retention purge may delete and keeps the chain anchors append-only.

-- The retention period the purge is held to. The application writes its configured value here before it
-- purges; the trigger below never deletes an event younger than this, whatever cutoff a session asks for.
CREATE TABLE audit_retention (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  retention_days integer NOT NULL CHECK (retention_days BETWEEN 1 AND 3650),
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO audit_retention (retention_days) VALUES (90);

-- Refuses UPDATE and DELETE, except a DELETE by the retention purge (which sets `patrol.audit_purge_before`
-- for its transaction) of an event older than both that cutoff and the retention period.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  cutoff text := current_setting('patrol.audit_purge_before', true);
  retention integer;
BEGIN
  IF TG_OP = 'DELETE' AND cutoff IS NOT NULL AND cutoff <> '' THEN
    SELECT retention_days INTO retention FROM audit_retention;
    IF retention IS NOT NULL
       AND OLD.occurred_at < cutoff::timestamptz
       AND OLD.occurred_at < now() - make_interval(days => retention) THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

-- One anchor per purge: where the chain resumes, with a MAC (keyed like the chain) so it cannot be forged.
-- Anchors written before this migration have no MAC; `audit verify` does not accept them.
ALTER TABLE audit_chain_anchors DROP CONSTRAINT audit_chain_anchors_pkey;
ALTER TABLE audit_chain_anchors ADD PRIMARY KEY (tenant_id, seq);
ALTER TABLE audit_chain_anchors ADD COLUMN mac text CHECK (mac ~ '^[0-9a-f]{64}$');

CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_chain_anchors_append_only BEFORE UPDATE OR DELETE ON audit_chain_anchors
  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_chain_anchors_no_truncate BEFORE TRUNCATE ON audit_chain_anchors
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();

-- The retention setting itself is no way around the purge bound: it cannot be deleted or emptied.
CREATE TRIGGER audit_retention_no_delete BEFORE DELETE ON audit_retention
  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_retention_no_truncate BEFORE TRUNCATE ON audit_retention
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
