import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  // @vane/server is published (the `vane` binary and the embeddable app); @vane/sdk-core is not, so the SSE reader
  // and backoff the relay shares with the SDKs are bundled in. Only the two entries are built: src/testing never is.
  noExternal: ['@vane/sdk-core'],
})
