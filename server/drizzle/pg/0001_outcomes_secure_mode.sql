CREATE TABLE "outcomes" (
	"environment" text NOT NULL,
	"flag_key" text NOT NULL,
	"variant" text NOT NULL,
	"window_start" timestamp with time zone NOT NULL,
	"count" bigint NOT NULL,
	"errors" bigint NOT NULL,
	"sketch" "bytea" NOT NULL,
	CONSTRAINT "outcomes_environment_flag_key_variant_window_start_pk" PRIMARY KEY("environment","flag_key","variant","window_start")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "secure_mode_secret" text;--> statement-breakpoint
ALTER TABLE "outcomes" ADD CONSTRAINT "outcomes_environment_environments_key_fk" FOREIGN KEY ("environment") REFERENCES "environments"("key") ON DELETE no action ON UPDATE no action;