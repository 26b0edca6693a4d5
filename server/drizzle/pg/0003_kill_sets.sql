ALTER TABLE "kill_triggers" ALTER COLUMN "flag_key" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "flag_configs" ADD COLUMN "kills" json DEFAULT '[]'::json NOT NULL;--> statement-breakpoint
ALTER TABLE "kill_triggers" ADD COLUMN "tag" text;--> statement-breakpoint
CREATE INDEX "kill_triggers_tag_idx" ON "kill_triggers" USING btree ("environment","tag");--> statement-breakpoint
ALTER TABLE "kill_triggers" ADD CONSTRAINT "kill_triggers_one_target" CHECK ((flag_key IS NULL) <> (tag IS NULL));--> statement-breakpoint
-- a flag killed before kill sets existed keeps one direct kill: the reason it was killed for, and the actor and time of its last kill in the audit log
UPDATE "flag_configs" SET "kills" = json_build_array(json_build_object(
	'source', 'direct',
	'reason', coalesce("kill_reason", 'killed before kill sets existed'),
	'actor', coalesce((SELECT a."actor" FROM "audit_log" a WHERE a."entity_type" = 'flag' AND a."entity_key" = "flag_configs"."flag_key" AND a."environment" = "flag_configs"."environment" AND a."action" = 'flag.kill' ORDER BY a."id" DESC LIMIT 1), 'unknown'),
	'at', to_char(coalesce((SELECT a."at" FROM "audit_log" a WHERE a."entity_type" = 'flag' AND a."entity_key" = "flag_configs"."flag_key" AND a."environment" = "flag_configs"."environment" AND a."action" = 'flag.kill' ORDER BY a."id" DESC LIMIT 1), "updated_at") AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
)) WHERE "killed";
