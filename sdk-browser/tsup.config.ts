import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', openfeature: 'src/openfeature.ts', opentelemetry: 'src/opentelemetry.ts' },
  format: ['esm'],
  dts: true,
  clean: true,
  minify: true,
  sourcemap: true,
  target: 'es2020',
  platform: 'browser',
  // the shared core and the SSE parser ship inside, so a page needs nothing else
  noExternal: ['@vane/sdk-core', 'eventsource-parser'],
  // the provider imports the client entry rather than a second copy of it
  splitting: true,
})
