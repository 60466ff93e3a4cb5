-- Full-text search over messages. The text searched is the source with the five HTML-special
-- characters (< > & " ') swapped for control characters (and any control characters it had for
-- spaces): the parser then sees no tags, entities or URLs running through markup, so a word a user
-- wrote inside a tag (`<b class="plans">`) is indexed as the text it is, and search snippets, made
-- from the same text, carry none of the source's markup until the API escapes them (lib/search.ts).
-- Configuration 'simple' (no stemming, no stop words): a team writes in several languages and in
-- code, where an English stemmer mangles other languages' words and identifiers, and drops words.

-- The one mapping the index and the snippets share (immutable, so a generated column may use it):
-- < > & " ' become \x01-\x05; \x01-\x08 already present become spaces.
CREATE FUNCTION "search_text"(source TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN translate(translate(source, E'\x01\x02\x03\x04\x05\x06\x07\x08', '        '), E'<>&"''', E'\x01\x02\x03\x04\x05');

-- AlterTable
ALTER TABLE "messages" ADD COLUMN "search" tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text("source"))) STORED;

-- CreateIndex
CREATE INDEX "messages_search_idx" ON "messages" USING GIN ("search");
