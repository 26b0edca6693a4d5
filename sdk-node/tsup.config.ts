import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', openfeature: 'src/openfeature.ts' },
  format: ['esm', 'cjs'],
  // the engine's types (Snapshot, EvaluationResult, …) are inlined too: @vane/engine is not a dependency of the package
  dts: {
    resolve: ['@vane/engine'],
    // from the engine's sources, not its built declarations (whose chunks would stay behind as relative imports)
    compilerOptions: { paths: { '@vane/engine': ['../engine/src/index.ts'] } },
  },
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  // the engine and the shared SDK core ship inside the package, so it installs on its own
  noExternal: ['@vane/engine', '@vane/sdk-core'],
})
