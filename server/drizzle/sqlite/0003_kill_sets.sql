PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_kill_triggers` (
	`id` text PRIMARY KEY NOT NULL,
	`environment` text NOT NULL,
	`flag_key` text,
	`tag` text,
	`name` text NOT NULL,
	`hash` text NOT NULL,
	`prefix` text NOT NULL,
	`created_at` text NOT NULL,
	`revoked_at` text,
	FOREIGN KEY (`environment`) REFERENCES `environments`(`key`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`flag_key`) REFERENCES `flags`(`key`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "kill_triggers_one_target" CHECK((flag_key IS NULL) <> (tag IS NULL))
);
--> statement-breakpoint
INSERT INTO `__new_kill_triggers`("id", "environment", "flag_key", "name", "hash", "prefix", "created_at", "revoked_at") SELECT "id", "environment", "flag_key", "name", "hash", "prefix", "created_at", "revoked_at" FROM `kill_triggers`;--> statement-breakpoint
DROP TABLE `kill_triggers`;--> statement-breakpoint
ALTER TABLE `__new_kill_triggers` RENAME TO `kill_triggers`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE UNIQUE INDEX `kill_triggers_hash_idx` ON `kill_triggers` (`hash`);--> statement-breakpoint
CREATE INDEX `kill_triggers_flag_idx` ON `kill_triggers` (`environment`,`flag_key`);--> statement-breakpoint
CREATE INDEX `kill_triggers_tag_idx` ON `kill_triggers` (`environment`,`tag`);--> statement-breakpoint
ALTER TABLE `flag_configs` ADD `kills` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
-- a flag killed before kill sets existed keeps one direct kill: the reason it was killed for, and the actor and time of its last kill in the audit log
UPDATE `flag_configs` SET `kills` = json_array(json_object(
	'source', 'direct',
	'reason', coalesce(`kill_reason`, 'killed before kill sets existed'),
	'actor', coalesce((SELECT a.`actor` FROM `audit_log` a WHERE a.`entity_type` = 'flag' AND a.`entity_key` = `flag_configs`.`flag_key` AND a.`environment` = `flag_configs`.`environment` AND a.`action` = 'flag.kill' ORDER BY a.`id` DESC LIMIT 1), 'unknown'),
	'at', coalesce((SELECT a.`at` FROM `audit_log` a WHERE a.`entity_type` = 'flag' AND a.`entity_key` = `flag_configs`.`flag_key` AND a.`environment` = `flag_configs`.`environment` AND a.`action` = 'flag.kill' ORDER BY a.`id` DESC LIMIT 1), `updated_at`)
)) WHERE `killed` = 1;
