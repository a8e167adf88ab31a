-- Buzón schema version 2: message bodies are stored out of line without compression.
-- Mail bodies are read far more often than written, and every read of a compressed value
-- decompresses it; uncompressed, a read is a copy of the stored pages, and TOP's
-- substring(data from 1 for n) fetches only the pages of that prefix. The cost is disk
-- space (text mail compresses about 2:1). Rows stored before this version stay
-- compressed and are read as before; only new rows are stored uncompressed.
ALTER TABLE message_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
