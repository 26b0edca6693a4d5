import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', openfeature: 'src/openfeature.ts', opentelemetry: 'src/opentelemetry.ts' },
  format: ['esm'],
  // the shared types (evaluation details, events, the HTTP error) are inlined: @vane/sdk-core is not published
  dts: {
    resolve: ['@vane/sdk-core'],
    // from its sources: the package has no built declarations
    compilerOptions: { paths: { '@vane/sdk-core': ['../sdk-core/src/index.ts'] } },
  },
  clean: true,
  minify: true,
  sourcemap: true,
  target: 'es2020',
  platform: 'browser',
  // the shared core (with its SSE reader) ships inside, so a page needs nothing else
  noExternal: ['@vane/sdk-core'],
  // the provider imports the client entry rather than a second copy of it
  splitting: true,
  // internals (private members, the stream client's attempt) are spelled `_name` so that their names can be
  // shortened: a minifier cannot rename properties on its own. One build for all entries keeps the names consistent.
  esbuildOptions(options) {
    options.mangleProps = /^_/
  },
})
