import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', openfeature: 'src/openfeature.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  // the engine and the shared SDK core ship inside the package, so it installs on its own
  noExternal: ['@vane/engine', '@vane/sdk-core'],
})
