-- Configuration domains (issue 3): a domain's items change only together,
-- in one transaction that also bumps its version. A domain without a row
-- is at version 0 with no items.
CREATE TABLE config_domains (
    domain   TEXT PRIMARY KEY,
    version  BIGINT NOT NULL
);

CREATE TABLE config_items (
    domain  TEXT NOT NULL REFERENCES config_domains(domain),
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (domain, key)
);
