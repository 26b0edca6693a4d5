import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', openfeature: 'src/openfeature.ts' },
  format: ['esm', 'cjs'],
  // the engine's types (Snapshot, EvaluationResult, …) and sdk-core's shared ones are inlined too: neither is a
  // dependency of the package
  dts: {
    resolve: ['@vane/engine', '@vane/sdk-core'],
    // from sources, not the engine's built declarations (whose chunks would stay behind as relative imports)
    compilerOptions: {
      paths: { '@vane/engine': ['../engine/src/index.ts'], '@vane/sdk-core': ['../sdk-core/src/index.ts'] },
    },
  },
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  // the engine and the shared SDK core ship inside the package, so it installs on its own
  noExternal: ['@vane/engine', '@vane/sdk-core'],
})
