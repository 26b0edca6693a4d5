CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"environment" text,
	"hash" text NOT NULL,
	"prefix" text NOT NULL,
	"allowed_origins" json NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_log_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"at" timestamp with time zone NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"entity_type" text NOT NULL,
	"entity_key" text NOT NULL,
	"environment" text,
	"before" json,
	"after" json,
	"reason" text
);
--> statement-breakpoint
CREATE TABLE "change_log" (
	"environment" text NOT NULL,
	"version" integer NOT NULL,
	"entity" text NOT NULL,
	"key" text NOT NULL,
	"op" text NOT NULL,
	"payload" json,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "change_log_environment_version_pk" PRIMARY KEY("environment","version")
);
--> statement-breakpoint
CREATE TABLE "cohort_members" (
	"cohort_key" text COLLATE "C" NOT NULL,
	"list" text COLLATE "C" NOT NULL,
	"member_key" text COLLATE "C" NOT NULL,
	CONSTRAINT "cohort_members_cohort_key_list_member_key_pk" PRIMARY KEY("cohort_key","list","member_key")
);
--> statement-breakpoint
CREATE TABLE "cohorts" (
	"key" text PRIMARY KEY NOT NULL,
	"description" text,
	"clauses" json NOT NULL,
	"rollout" json,
	"version" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "environments" (
	"key" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"version" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flag_configs" (
	"environment" text NOT NULL,
	"flag_key" text NOT NULL,
	"enabled" boolean NOT NULL,
	"killed" boolean NOT NULL,
	"kill_reason" text,
	"off_variant" text NOT NULL,
	"fallthrough" json NOT NULL,
	"rules" json NOT NULL,
	"targets" json NOT NULL,
	"prerequisites" json NOT NULL,
	"version" integer NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "flag_configs_environment_flag_key_pk" PRIMARY KEY("environment","flag_key")
);
--> statement-breakpoint
CREATE TABLE "flags" (
	"key" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"variants" json NOT NULL,
	"description" text,
	"tags" json NOT NULL,
	"owner" text,
	"archived" boolean DEFAULT false NOT NULL,
	"version" integer NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "kill_triggers" (
	"id" text PRIMARY KEY NOT NULL,
	"environment" text NOT NULL,
	"flag_key" text NOT NULL,
	"name" text NOT NULL,
	"hash" text NOT NULL,
	"prefix" text NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_environment_environments_key_fk" FOREIGN KEY ("environment") REFERENCES "environments"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "change_log" ADD CONSTRAINT "change_log_environment_environments_key_fk" FOREIGN KEY ("environment") REFERENCES "environments"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flag_configs" ADD CONSTRAINT "flag_configs_environment_environments_key_fk" FOREIGN KEY ("environment") REFERENCES "environments"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flag_configs" ADD CONSTRAINT "flag_configs_flag_key_flags_key_fk" FOREIGN KEY ("flag_key") REFERENCES "flags"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "kill_triggers" ADD CONSTRAINT "kill_triggers_environment_environments_key_fk" FOREIGN KEY ("environment") REFERENCES "environments"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "kill_triggers" ADD CONSTRAINT "kill_triggers_flag_key_flags_key_fk" FOREIGN KEY ("flag_key") REFERENCES "flags"("key") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_hash_idx" ON "api_keys" USING btree ("hash");--> statement-breakpoint
CREATE INDEX "audit_log_entity_idx" ON "audit_log" USING btree ("entity_type","entity_key","id");--> statement-breakpoint
CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at");--> statement-breakpoint
CREATE UNIQUE INDEX "kill_triggers_hash_idx" ON "kill_triggers" USING btree ("hash");--> statement-breakpoint
CREATE INDEX "kill_triggers_flag_idx" ON "kill_triggers" USING btree ("environment","flag_key");