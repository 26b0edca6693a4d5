// Flags that more than one benchmark sets up through the admin API.

/** A plain boolean flag definition. */
export const BOOLEAN = { type: 'boolean', variants: { on: true, off: false } }

/**
 * Targeting of `prop`, the flag the propagation phases change: on, except rule r1 serving `off` to NL and BE;
 * each change disables or enables r1 (`POST …/flags/prop/rules/r1/{disable,enable}`).
 */
export const PROP_TARGETING = {
  enabled: true,
  offVariant: 'off',
  fallthrough: { variant: 'on' },
  rules: [{ id: 'r1', clauses: [{ attribute: 'country', op: 'in', values: ['NL', 'BE'] }], serve: { variant: 'off' } }],
}
