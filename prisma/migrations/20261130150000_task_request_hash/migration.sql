-- A keyed post's request (SHA-256 of its source and room): a repeat of the Idempotency-Key with
-- another message is refused instead of answered with the first one's task. Null for unkeyed tasks
-- and for tasks keyed before this column, whose repeats are answered as before.

-- AlterTable
ALTER TABLE "tasks" ADD COLUMN "request_hash" BYTEA;
