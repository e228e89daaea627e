-- Tenants, their organizations and users, and the policies and allowlists that govern PATs.

CREATE TABLE tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9-]{0,49}$'),
  -- OIDC settings for callers of the lifecycle API; NULL falls back to the service configuration.
  oidc_issuer text,
  oidc_audience text,
  oidc_jwks_url text,
  -- Tenant policies (Azure DevOps semantics).
  auto_revoke_leaked_pats boolean NOT NULL DEFAULT true,
  restrict_global_pats boolean NOT NULL DEFAULT false,
  restrict_full_scope_pats boolean NOT NULL DEFAULT false,
  max_pat_lifespan_days integer CHECK (max_pat_lifespan_days BETWEEN 1 AND 366),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tenants_name_key ON tenants (lower(name));

CREATE TABLE organizations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9-]{0,49}$'),
  -- Organization policy "Restrict PAT creation", and its option to still allow packaging-only PATs.
  restrict_pat_creation boolean NOT NULL DEFAULT false,
  allow_packaging_pats boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
-- Organization names are global, as in Azure DevOps, and case-insensitive.
CREATE UNIQUE INDEX organizations_name_key ON organizations (lower(name));
CREATE INDEX organizations_tenant_idx ON organizations (tenant_id);

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  email text NOT NULL,
  display_name text NOT NULL,
  -- The OIDC `sub` claim, bound at the first sign-in by email when not given up front.
  subject text,
  role text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'admin')),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  disabled_at timestamptz,
  last_full_sign_in_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (tenant_id, lower(email));
CREATE UNIQUE INDEX users_subject_key ON users (tenant_id, subject) WHERE subject IS NOT NULL;

-- Groups exist only as names that allowlists can hold; membership is managed by admins.
CREATE TABLE group_members (
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  group_name text NOT NULL,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  PRIMARY KEY (tenant_id, group_name, user_id)
);
CREATE INDEX group_members_user_idx ON group_members (user_id);

-- Each policy has its own allowlist of users and groups exempt from it.
CREATE TABLE policy_allowlist_entries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  organization_id uuid REFERENCES organizations (id),
  policy text NOT NULL CHECK (policy IN (
    'autoRevokeLeakedPats', 'restrictGlobalPats', 'restrictFullScopePats', 'maxPatLifespan', 'restrictPatCreation'
  )),
  user_id uuid REFERENCES users (id) ON DELETE CASCADE,
  group_name text,
  CHECK ((user_id IS NULL) <> (group_name IS NULL)),
  -- restrictPatCreation is the only organization policy; the others belong to the tenant.
  CHECK ((policy = 'restrictPatCreation') = (organization_id IS NOT NULL))
);
CREATE UNIQUE INDEX policy_allowlist_entries_key ON policy_allowlist_entries (
  tenant_id, policy, coalesce(organization_id::text, ''), coalesce(user_id::text, ''), coalesce(group_name, '')
);
