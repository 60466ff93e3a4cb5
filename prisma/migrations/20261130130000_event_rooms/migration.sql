-- Events carry the room they belong to and who may see them, so push filters without parsing models.

-- AlterTable: room_id is null for an event of no room (a User); readers is null when anyone may
-- see the event (no room, or a public one), else the private or direct room's members as the
-- event was published, plus the affected user of a Membership event (who also gets a removal).
ALTER TABLE "events" ADD COLUMN "room_id" INTEGER,
ADD COLUMN "readers" INTEGER[];

-- Publishes events: takes the publishing lock first, so seq order is commit order, then reads the
-- members with a fresh snapshot (plpgsql, read committed): a membership change published before
-- this event is always seen by it. One statement for the caller, so it pipelines. only_to: readers
-- given by the caller instead (a read-marker move goes to its user alone, even in a public room).
CREATE FUNCTION "publish_events"(event_class TEXT, models JSONB[], lock_key BIGINT, channel TEXT, only_to INTEGER[]) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  newest BIGINT;
BEGIN
  PERFORM pg_advisory_xact_lock(lock_key);
  WITH published AS (
    SELECT u.m, u.n, CASE event_class WHEN 'Room' THEN (u.m->>'id')::int WHEN 'User' THEN NULL ELSE (u.m->>'room_id')::int END AS room_id
    FROM unnest(models) WITH ORDINALITY AS u(m, n)
  ), inserted AS (
    INSERT INTO events (class, model, room_id, readers)
    SELECT event_class, p.m, p.room_id,
      CASE WHEN only_to IS NOT NULL THEN only_to
           WHEN p.room_id IS NULL OR r.kind = 'public' THEN NULL
           -- A room missing by now is read by no one (never by everyone).
           ELSE ARRAY(SELECT ms.user_id FROM memberships ms WHERE ms.room_id = p.room_id
                      UNION SELECT (p.m->>'user_id')::int WHERE event_class = 'Membership' AND p.m->>'user_id' IS NOT NULL) END
    FROM published p LEFT JOIN rooms r ON r.id = p.room_id
    ORDER BY p.n
    RETURNING seq)
  SELECT max(seq) INTO newest FROM inserted;
  PERFORM pg_notify(channel, newest::text);
  RETURN newest;
END
$$;
