-- What the leak pipeline shows people about an incident: the token's redacted form (first 4 and last 4
-- characters, never more), and how delivering the owner's notice went.

ALTER TABLE leak_incidents ADD COLUMN redacted text CHECK (redacted IS NULL OR char_length(redacted) <= 9);
ALTER TABLE leak_incidents ADD COLUMN mail_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE leak_incidents ADD COLUMN mail_last_error text;
ALTER TABLE leak_incidents ADD COLUMN mail_last_attempt_at timestamptz;
-- The incidents API pages newest first.
CREATE INDEX leak_incidents_first_seen_idx ON leak_incidents (first_seen_at DESC, id DESC);
