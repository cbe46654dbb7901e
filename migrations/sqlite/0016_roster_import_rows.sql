-- Resumable roster imports. Each data row's result is written in the transaction that
-- imports the row, so an import cut off by a restart continues after the last row
-- written and never imports a row twice. The process running an import holds a lease
-- that it renews after every chunk; a `running` import whose lease has expired is
-- taken over by another API process.
CREATE TABLE roster_import_rows (
    import_id  TEXT NOT NULL REFERENCES roster_imports (id),
    row_index  INTEGER NOT NULL,  -- position among the file's data rows, from 0
    rejected   INTEGER NOT NULL,  -- 1 when the row was not imported, else 0
    result     TEXT NOT NULL,     -- JSON: the row's action, operator and messages
    PRIMARY KEY (import_id, row_index)
);

ALTER TABLE roster_imports ADD COLUMN runner TEXT;     -- id of the run holding the lease
ALTER TABLE roster_imports ADD COLUMN lease_until INTEGER;  -- unix ms, engine clock
