// drizzle-kit writes foreign keys as REFERENCES "public"."table" even for tables declared without a schema.
// openPostgresStore puts the tables in whatever schema its search_path names, so the references must not
// name one. Run after every `drizzle-kit generate` for PostgreSQL (the db:generate script does).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'

const dir = new URL('./pg/', import.meta.url)
for (const name of readdirSync(dir).filter((n) => n.endsWith('.sql'))) {
  const file = new URL(name, dir)
  const sql = readFileSync(file, 'utf8')
  const unpinned = sql.replaceAll('REFERENCES "public".', 'REFERENCES ')
  if (unpinned !== sql) writeFileSync(file, unpinned)
}
