-- The text encoding a roster CSV was read with (UTF-8 or GBK; NULL for xlsx and for
-- imports previewed before this column existed), so that the finished import shows it
-- as the preview did.
ALTER TABLE roster_imports ADD COLUMN encoding_used TEXT;
