CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`kind` text NOT NULL,
	`environment` text,
	`hash` text NOT NULL,
	`prefix` text NOT NULL,
	`allowed_origins` text NOT NULL,
	`created_at` text NOT NULL,
	`revoked_at` text,
	FOREIGN KEY (`environment`) REFERENCES `environments`(`key`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash_idx` ON `api_keys` (`hash`);--> statement-breakpoint
CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` text NOT NULL,
	`actor` text NOT NULL,
	`action` text NOT NULL,
	`entity_type` text NOT NULL,
	`entity_key` text NOT NULL,
	`environment` text,
	`before` text,
	`after` text,
	`reason` text
);
--> statement-breakpoint
CREATE INDEX `audit_log_entity_idx` ON `audit_log` (`entity_type`,`entity_key`,`id`);--> statement-breakpoint
CREATE INDEX `audit_log_at_idx` ON `audit_log` (`at`);--> statement-breakpoint
CREATE TABLE `change_log` (
	`environment` text NOT NULL,
	`version` integer NOT NULL,
	`entity` text NOT NULL,
	`key` text NOT NULL,
	`op` text NOT NULL,
	`payload` text,
	`created_at` text NOT NULL,
	PRIMARY KEY(`environment`, `version`),
	FOREIGN KEY (`environment`) REFERENCES `environments`(`key`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `cohort_members` (
	`cohort_key` text NOT NULL,
	`list` text NOT NULL,
	`member_key` text NOT NULL,
	PRIMARY KEY(`cohort_key`, `list`, `member_key`)
);
--> statement-breakpoint
CREATE TABLE `cohorts` (
	`key` text PRIMARY KEY NOT NULL,
	`description` text,
	`clauses` text NOT NULL,
	`rollout` text,
	`version` integer NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `environments` (
	`key` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`version` integer DEFAULT 0 NOT NULL,
	`created_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `flag_configs` (
	`environment` text NOT NULL,
	`flag_key` text NOT NULL,
	`enabled` integer NOT NULL,
	`killed` integer NOT NULL,
	`kill_reason` text,
	`off_variant` text NOT NULL,
	`fallthrough` text NOT NULL,
	`rules` text NOT NULL,
	`targets` text NOT NULL,
	`prerequisites` text NOT NULL,
	`version` integer NOT NULL,
	`updated_at` text NOT NULL,
	PRIMARY KEY(`environment`, `flag_key`),
	FOREIGN KEY (`environment`) REFERENCES `environments`(`key`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`flag_key`) REFERENCES `flags`(`key`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `flags` (
	`key` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`variants` text NOT NULL,
	`description` text,
	`tags` text NOT NULL,
	`owner` text,
	`archived` integer DEFAULT false NOT NULL,
	`version` integer NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `kill_triggers` (
	`id` text PRIMARY KEY NOT NULL,
	`environment` text NOT NULL,
	`flag_key` text NOT NULL,
	`name` text NOT NULL,
	`hash` text NOT NULL,
	`prefix` text NOT NULL,
	`created_at` text NOT NULL,
	`revoked_at` text,
	FOREIGN KEY (`environment`) REFERENCES `environments`(`key`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`flag_key`) REFERENCES `flags`(`key`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `kill_triggers_hash_idx` ON `kill_triggers` (`hash`);--> statement-breakpoint
CREATE INDEX `kill_triggers_flag_idx` ON `kill_triggers` (`environment`,`flag_key`);