import { defineConfig } from 'tsup'

export default defineConfig({
  entry: { index: 'src/index.ts', schema: 'src/schema.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
  esbuildOptions(options, { format }) {
    // esbuild annotates CommonJS exports (`0 && (module.exports = {…})`) only for Node, and without that annotation
    // Node's cjs-module-lexer finds no named exports: an ES module importing index.cjs would see only `default`
    if (format === 'cjs') options.platform = 'node'
  },
})
