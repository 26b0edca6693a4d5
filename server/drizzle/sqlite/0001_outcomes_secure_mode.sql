CREATE TABLE `outcomes` (
	`environment` text NOT NULL,
	`flag_key` text NOT NULL,
	`variant` text NOT NULL,
	`window_start` text NOT NULL,
	`count` integer NOT NULL,
	`errors` integer NOT NULL,
	`sketch` blob NOT NULL,
	PRIMARY KEY(`environment`, `flag_key`, `variant`, `window_start`),
	FOREIGN KEY (`environment`) REFERENCES `environments`(`key`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
ALTER TABLE `api_keys` ADD `secure_mode_secret` text;