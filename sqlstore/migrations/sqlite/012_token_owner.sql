-- Revoking every token of a principal (password change, revoke-tokens) and
-- rotating a terminal's token find the live tokens of their owner.
CREATE INDEX tokens_principal ON tokens (principal_id) WHERE revoked_at IS NULL;
CREATE INDEX tokens_terminal ON tokens (terminal_id) WHERE revoked_at IS NULL;
