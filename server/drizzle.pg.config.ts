import { defineConfig } from 'drizzle-kit'

// Tables are left in no schema of their own: openPostgresStore's search_path picks it, so that test runs
// and several deployments can share one database.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/storage/schema.pg.ts',
  out: './drizzle/pg',
})
