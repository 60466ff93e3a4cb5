-- Rooms and memberships; every existing message moves to room 1, the public room `general`.

-- CreateTable
CREATE TABLE "rooms" (
    "id" SERIAL NOT NULL,
    "name" VARCHAR(64),
    "name_key" TEXT,
    "topic" VARCHAR(250) NOT NULL DEFAULT '',
    "kind" VARCHAR(16) NOT NULL,
    "direct_key" TEXT,
    "created_by" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "rooms_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "rooms_kind_check" CHECK ("kind" IN ('public', 'private', 'direct')),
    -- A direct room has a pair key and no name; every other room a name and no pair key.
    CONSTRAINT "rooms_direct_check" CHECK (("kind" = 'direct') = ("direct_key" IS NOT NULL) AND ("kind" = 'direct') = ("name" IS NULL) AND ("name" IS NULL) = ("name_key" IS NULL))
);

-- CreateTable
CREATE TABLE "memberships" (
    "room_id" INTEGER NOT NULL,
    "user_id" INTEGER NOT NULL,
    "role" VARCHAR(16) NOT NULL DEFAULT 'member',
    "last_read_id" INTEGER NOT NULL DEFAULT 0,
    "joined_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "memberships_pkey" PRIMARY KEY ("room_id", "user_id"),
    CONSTRAINT "memberships_role_check" CHECK ("role" IN ('owner', 'member'))
);

-- The room every user is in (without a membership row), and where Flack's messages live.
INSERT INTO "rooms" ("id", "name", "name_key", "kind") VALUES (1, 'general', 'general', 'public');
SELECT setval(pg_get_serial_sequence('"rooms"', 'id'), 1);

-- AlterTable: a constant default fills existing rows without rewriting the table.
ALTER TABLE "messages" ADD COLUMN "room_id" INTEGER NOT NULL DEFAULT 1,
ADD COLUMN "edited_at" TIMESTAMPTZ(3),
ADD COLUMN "deleted" BOOLEAN NOT NULL DEFAULT false;

-- CreateIndex
CREATE UNIQUE INDEX "rooms_direct_key_key" ON "rooms"("direct_key");

-- Public names are unique case-insensitively; private names block no one.
CREATE UNIQUE INDEX "rooms_public_name_key" ON "rooms"("name_key") WHERE "kind" = 'public';

-- CreateIndex
CREATE INDEX "memberships_user_id_idx" ON "memberships"("user_id");

-- CreateIndex
CREATE INDEX "messages_room_id_id_idx" ON "messages"("room_id", "id");

-- AddForeignKey
ALTER TABLE "messages" ADD CONSTRAINT "messages_room_id_fkey" FOREIGN KEY ("room_id") REFERENCES "rooms"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rooms" ADD CONSTRAINT "rooms_created_by_fkey" FOREIGN KEY ("created_by") REFERENCES "users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_room_id_fkey" FOREIGN KEY ("room_id") REFERENCES "rooms"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
