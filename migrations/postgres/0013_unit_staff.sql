-- The unit admin's staff list selects a unit's operators by unit and name and counts
-- the year's cards of a unit, so both lookups get an index.
CREATE INDEX operators_unit ON operators (unit_id, name);
CREATE INDEX cards_operator_year ON cards (operator_id, year);
